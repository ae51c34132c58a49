"""Jobs: generations run on Celery workers, with Postgres holding the truth.

Celery carries messages only (no result backend): a job's row in the ``jobs`` table is its
state (store.py); the broker is the stack's Redis (app.py); the workers are a service of
the registry (service.py); the API and the CLI submit and read through submit.py.
"""

from devmatrix.jobs._constants import FINISHED, MAX_ATTEMPTS, PING_TIMEOUT_S, STATUSES, SYNC_WAIT_S, WAIT_POLL_S

__all__ = ["FINISHED", "MAX_ATTEMPTS", "PING_TIMEOUT_S", "STATUSES", "SYNC_WAIT_S", "WAIT_POLL_S"]
