-- Workflows on the workers: a task's row names the job (devmatrix.jobs) that runs it (the job id
-- is its Celery task id) and the worker node that ran it. A resume takes over a job still going
-- instead of sending it again. Both stay NULL for a task run in the starting process.
ALTER TABLE workflow_tasks ADD COLUMN IF NOT EXISTS job_id UUID;
ALTER TABLE workflow_tasks ADD COLUMN IF NOT EXISTS worker VARCHAR(255);
