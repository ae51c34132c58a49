-- Seed §1.3: the log of every code generation, plus what an operator asks of it.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS code_generation_logs (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    workspace_id VARCHAR(255),
    user_request TEXT,
    generated_code TEXT,
    approval_status VARCHAR(50),
    quality_score FLOAT,
    metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    success BOOLEAN,
    error TEXT,
    model VARCHAR(100),
    backend VARCHAR(20),
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd NUMERIC(12, 6),
    latency_s FLOAT,
    file_path TEXT,
    git_commit_hash CHAR(40)
);

CREATE INDEX IF NOT EXISTS code_generation_logs_timestamp_idx
    ON code_generation_logs (timestamp DESC);
CREATE INDEX IF NOT EXISTS code_generation_logs_workspace_idx
    ON code_generation_logs (workspace_id);
CREATE INDEX IF NOT EXISTS code_generation_logs_status_idx
    ON code_generation_logs (approval_status);
