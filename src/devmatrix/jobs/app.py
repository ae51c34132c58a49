"""The Celery app: Redis (the stack's own) as the broker, no result backend, safe delivery.

Each setting below avoids one failure Celery-on-Redis users meet (docs/architecture.md, "Jobs"):
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged when its job
  ends, and one whose pool process died is given back, so a killed worker loses no job;
- ``worker_prefetch_multiplier=1``: a worker reserves one message per free process, so a busy
  worker does not sit on jobs an idle one could run;
- ``task_acks_on_failure_or_timeout`` (Celery's default, pinned here): a failed job's task ends in
  FAILURE (counted by Flower) and its message is acknowledged, not delivered again;
- ``visibility_timeout`` (in ``broker_transport_options``, where kombu's Redis transport reads
  it) above the hard time limit: a job still running is never handed to a second worker;
- ``task_time_limit``/``task_soft_time_limit`` from the generation deadline;
- ``task_ignore_result``: Postgres holds each job's state (store.py), never the broker.
"""

from __future__ import annotations

from urllib.parse import quote

from celery import Celery

from devmatrix.config import Settings
from devmatrix.deadlines import CONNECT_TIMEOUT_S, REDIS_SOCKET_TIMEOUT_S
from devmatrix.jobs._constants import (
    BROKER_DB,
    HARD_TIME_LIMIT_S,
    RESTORE_INTERVAL_S,
    SOFT_TIME_LIMIT_S,
    VISIBILITY_TIMEOUT_S,
)


def broker_url(settings: Settings) -> str:
    password = settings.redis_password.get_secret_value()
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{BROKER_DB}"


def broker_address(settings: Settings) -> str:
    """The broker without its password, for messages."""
    return f"redis://{settings.redis_host}:{settings.redis_port}/{BROKER_DB}"


def celery_config(settings: Settings, *, visibility_timeout_s: float | None = None) -> dict[str, object]:
    queue = settings.worker_queue
    return {
        "broker_url": broker_url(settings),
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": CONNECT_TIMEOUT_S,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout_s or VISIBILITY_TIMEOUT_S,
            # a message past its visibility timeout is restored by the next sweep: every
            # RESTORE_INTERVAL_S, not kombu's default of 10 intervals x a throttle of 10 (100 s)
            "unacked_restore_interval": RESTORE_INTERVAL_S,
            "unacked_restore_throttle": 1,
            # the unacknowledged messages of this queue, apart from another queue's on the same
            # Redis: workers sweep (with their visibility timeout) only their own queue's
            "unacked_key": f"unacked:{queue}",
            "unacked_index_key": f"unacked_index:{queue}",
            "unacked_mutex_key": f"unacked_mutex:{queue}",
            "socket_timeout": REDIS_SOCKET_TIMEOUT_S,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
        },
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # a task that ended in FAILURE (a failed job: tasks.JobFailed) is acknowledged, never sent again
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": SOFT_TIME_LIMIT_S,
        "task_time_limit": HARD_TIME_LIMIT_S,
        "task_default_queue": settings.worker_queue,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,  # structlog's JSON lines stay lines, not WARNING records
        # Flower and `celery events` see the jobs as they run
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "enable_utc": True,
    }


def make_app(settings: Settings, *, visibility_timeout_s: float | None = None) -> Celery:
    """A Celery app for these settings (the API, the CLI and each worker build their own)."""
    app = Celery("devmatrix", set_as_current=False)
    app.conf.update(celery_config(settings, visibility_timeout_s=visibility_timeout_s))
    return app
