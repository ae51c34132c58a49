"""Every number that tunes job delivery, beside its reason (docs/architecture.md, "Jobs")."""

from __future__ import annotations

from devmatrix.deadlines import GENERATE_DEADLINE_S

# The Redis database the broker's queues live in: apart from the LLM cache and the ledger (db 0),
# so a FLUSHDB of one never drops the other; the same server, so AOF covers both.
BROKER_DB = 1
TASK_NAME = "devmatrix.jobs.generate"

# The agent ends its own generation at GENERATE_DEADLINE_S (and logs it). The soft limit is the
# backstop above it: SoftTimeLimitExceeded still lets the task record the job as failed.
SOFT_TIME_LIMIT_S = GENERATE_DEADLINE_S + 15
# The hard limit kills the pool process that did not stop after the soft one.
HARD_TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 15
# Redis gives an unacknowledged message to another worker after this: above the hard limit,
# or a job still running would be delivered twice (the classic Celery-on-Redis duplicate).
VISIBILITY_TIMEOUT_S = HARD_TIME_LIMIT_S + 60
# Workers sweep for messages past their visibility timeout on this period (app.py sets kombu's
# restore throttle to 1: without it, kombu 5.7 scans only every 10th sweep, 100 s).
RESTORE_INTERVAL_S = 10

# Deliveries of one job at most (kept in Postgres): a job whose worker dies twice in a row is
# failed, never delivered forever.
MAX_ATTEMPTS = 3

# A delivery whose job row could not be read or written (Postgres restarting, or in crash recovery
# after a kill -9) is sent again after STORE_RETRY_S, at most STORE_RETRIES times: a minute rides
# out a supervisor restart; acknowledged as failed, the message was gone and the job stayed
# 'queued' for good (chaos postgres-kill-during-generate, CI 2026-12-06). Safe to repeat: the
# effects are once per job id (run.run_job) and the attempts are bounded in Postgres.
STORE_RETRY_S = 2.0
STORE_RETRIES = 30

# A worker answers a control ping in milliseconds when idle, but a niced worker on a busy 2-core
# machine was measured taking over 1 s; none within this: none is up.
PING_TIMEOUT_S = 2.0
# Within that window the ping is sent again this often to the nodes that have not answered: a worker
# that subscribed after a broadcast never hears it (jobs.service.ping_nodes).
PING_ROUND_S = 0.25
# How often a waiting caller (POST /generate, the CLI) reads the job's row.
WAIT_POLL_S = 0.2
# A caller that waits on a job still queued asks the broker for a PING this often (each PING
# bounded by REDIS_SOCKET_TIMEOUT_S). A frozen broker holds a published message where no worker
# can take it, and the caller would wait out its whole deadline (a workflow node: NODE_WAIT_S,
# minutes) without a word: chaos redis-freeze-during-workflow took 409 s and then succeeded, over
# its 375 s deadline (CI 2026-12-06). A PING is the broker's own liveness answer and costs
# nothing; workers are not pinged here: busy workers answer late, and busy is not down.
QUEUED_CHECK_S = 10.0
# A synchronous caller waits for the generation's deadline plus a queue wait of this.
QUEUE_WAIT_S = 30.0
SYNC_WAIT_S = GENERATE_DEADLINE_S + QUEUE_WAIT_S

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
