-- A failure's fix, apart from its message (`error`): a generation's and a workflow task's.
ALTER TABLE code_generation_logs ADD COLUMN IF NOT EXISTS error_fix TEXT;
ALTER TABLE workflow_tasks ADD COLUMN IF NOT EXISTS error_fix TEXT;
