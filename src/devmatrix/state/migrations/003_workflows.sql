-- Multi-agent workflows (seed §4.2): the plan, and every task's outcome, so a
-- workflow can be inspected afterwards and resumed after an interruption.
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id VARCHAR(64) PRIMARY KEY,
    user_request TEXT NOT NULL,
    workspace_id VARCHAR(255) NOT NULL,
    plan JSONB NOT NULL,
    plan_source VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'running',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS workflow_tasks (
    workflow_id VARCHAR(64) NOT NULL REFERENCES workflows (workflow_id) ON DELETE CASCADE,
    task_id VARCHAR(40) NOT NULL,
    type VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL,
    artifact TEXT,
    files JSONB NOT NULL DEFAULT '[]'::jsonb,
    git_commit_hash CHAR(40),
    error TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd NUMERIC(12, 6) NOT NULL DEFAULT 0,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    duration_s FLOAT,
    PRIMARY KEY (workflow_id, task_id)
);

CREATE INDEX IF NOT EXISTS workflow_tasks_status_idx ON workflow_tasks (workflow_id, status);
