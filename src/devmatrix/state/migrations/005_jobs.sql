-- Jobs (devmatrix.jobs): generations run on Celery workers. Postgres holds the truth;
-- Celery only carries the job id. `attempts` bounds redelivery (MAX_ATTEMPTS).
CREATE TABLE IF NOT EXISTS jobs (
    job_id UUID PRIMARY KEY,
    kind VARCHAR(20) NOT NULL DEFAULT 'generate',
    request JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    worker VARCHAR(255),
    worker_pid INTEGER,  -- the pool process running it (kill -9 it to see a job taken over)
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    result JSONB,
    error JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS jobs_created_idx ON jobs (created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_status_idx ON jobs (status);

-- Every LLM reply a job paid for, in call order: a retried job reuses them, never pays twice.
CREATE TABLE IF NOT EXISTS job_llm_replies (
    job_id UUID NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    prompt_sha256 CHAR(64) NOT NULL,
    reply JSONB NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- The idempotency key of a generation run as a job: its one log row.
ALTER TABLE code_generation_logs ADD COLUMN IF NOT EXISTS generation_id VARCHAR(64);
CREATE UNIQUE INDEX IF NOT EXISTS code_generation_logs_generation_id_idx
    ON code_generation_logs (generation_id);
