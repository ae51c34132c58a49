"""``python -m devmatrix.jobs.worker --stack STATE_DIR``: one Celery worker (the native service `worker`).

supervisord runs WORKER_COUNT of these (process names worker-0, worker-1, …); each is a
Celery node named after its process and its stack (service.node_name), running as many
generations at once as the LLM backend serves (service.worker_concurrency).

After each job, the pool process that ran it pushes its LLM and code-generation metrics to the
Pushgateway when monitoring is on (monitoring.push.GroupPusher: a group per node and pool index),
and does nothing when it is off.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from billiard.process import current_process
from celery.signals import task_postrun, worker_ready

from devmatrix.boundary import run_main
from devmatrix.config import Settings, load_settings
from devmatrix.errors import DevMatrixError
from devmatrix.jobs._constants import VISIBILITY_TIMEOUT_S
from devmatrix.jobs.app import make_app
from devmatrix.jobs.service import node_name, worker_concurrency
from devmatrix.jobs.tasks import hand_back, register
from devmatrix.monitoring.logging import configure_logging
from devmatrix.monitoring.push import WORKER_JOB, GroupPusher, worker_grouping_key

# supervisord names each process it starts in this variable (worker-0, worker-1, …)
PROCESS_NAME_VARIABLE = "SUPERVISOR_PROCESS_NAME"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devmatrix.jobs.worker", description=__doc__)
    parser.add_argument("--stack", type=Path, required=True, help="the stack's state dir (names the node)")
    parser.add_argument("--name", default=None, help="process name (default: supervisord's, else 'worker')")
    parser.add_argument("--visibility-timeout", type=float, default=None, metavar="S",
                        help="seconds before an unacknowledged message goes to another worker (default: the"
                             f" hard time limit + 60 = {VISIBILITY_TIMEOUT_S:g}); lower only where no job runs"
                             " that long (tests, drills), or a running job is taken twice")
    args = parser.parse_args(argv)
    return run_main(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings)
    process = args.name or os.environ.get(PROCESS_NAME_VARIABLE) or "worker"
    app = make_app(settings, visibility_timeout_s=args.visibility_timeout)
    register(app, settings)  # light: the agent stack loads with the first job (tasks.py)
    node = node_name(process, args.stack)

    @worker_ready.connect(weak=False)
    def _hand_back(**_: object) -> None:
        try:
            hand_back(app, settings, node)
        except DevMatrixError as error:  # Postgres down: the visibility timeout brings them back
            print(f"WARNING: jobs of {node}'s previous run not handed back: {error}", file=sys.stderr)

    push_after_each_job(settings, node)
    app.worker_main(["worker", "--hostname", node,
                     "--concurrency", str(worker_concurrency(settings)), "--pool", "prefork",
                     "--queues", settings.worker_queue, "--loglevel", settings.log_level,
                     "--without-gossip", "--without-mingle"])
    return 0


def push_after_each_job(settings: Settings, node: str) -> None:
    """Each pool process pushes its metrics after each job it ran (Celery's task_postrun runs in
    the pool process, after the task's return or raise): with a pusher of its own, made on its
    first job (after the fork), under its node and pool index."""
    pushers: dict[int, GroupPusher] = {}  # pid → its pusher: a forked child never uses its parent's

    @task_postrun.connect(weak=False)
    def _push(**_: object) -> None:
        pid = os.getpid()
        if pid not in pushers:
            pushers.clear()
            index = getattr(current_process(), "index", 0)  # billiard numbers the pool's processes
            pushers[pid] = GroupPusher(settings, WORKER_JOB, worker_grouping_key(node, index))
        pushers[pid].push()


if __name__ == "__main__":
    sys.exit(main())
