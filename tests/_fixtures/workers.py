"""Celery workers of a test's own: real processes (python -m devmatrix.jobs.worker), never eager mode.

A worker gets the session's settings plus ``overrides``, passed as the environment variables
they are (a process reads its settings from the environment first), and a queue of its own
(WORKER_QUEUE), so it takes only the test's jobs and the stack's workers never take them.
It runs in a process group of its own; at the end it is stopped cold (SIGQUIT) and what is
left of its pool is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from devmatrix.config import Settings, env_file_path
from devmatrix.jobs.service import node_name

STOP_S = 10.0


def env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class WorkerProcess:
    node: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the worker and its pool (its whole process group)."""
        os.killpg(self.process.pid, signum)


@contextmanager
def worker_process(settings: Settings, overrides: dict[str, object], log: Path, *, name: str,
                   args: tuple[str, ...] = ()) -> Iterator[WorkerProcess]:
    """A worker named ``name`` with the session's settings and ``overrides`` (which must
    include ``worker_queue``); ``args`` are more flags of ``python -m devmatrix.jobs.worker``."""
    env = {**os.environ, "DEVMATRIX_ENV_FILE": str(env_file_path()), "PYTHONUNBUFFERED": "1"}
    env.update({key.upper(): env_value(value) for key, value in overrides.items()})
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devmatrix.jobs.worker", "--stack", str(settings.devmatrix_state_dir),
             "--name", name, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    worker = WorkerProcess(node_name(name, settings.devmatrix_state_dir), process, log)
    try:
        yield worker
    finally:
        with suppress(ProcessLookupError):
            worker.signal(signal.SIGCONT)  # a frozen one must run to stop
            worker.signal(signal.SIGQUIT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_S)
        with suppress(ProcessLookupError):
            worker.signal(signal.SIGKILL)  # what is left of its pool
        process.wait(STOP_S)
