"""Real short-lived processes to point the ownership and stop logic at (no servers)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `ignore-term`: SIGTERM is ignored (a server that will not stop); `handle-term`: SIGTERM runs a
# handler that exits, as a server's graceful shutdown does; `listen=PORT`: holds a port.
SLEEP = """
import signal, socket, sys, time
if "ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "handle-term" in sys.argv:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
for arg in sys.argv:
    if arg.startswith("listen="):
        server = socket.socket()
        server.bind(("127.0.0.1", int(arg[7:])))
        server.listen()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def spawn() -> Iterator:
    """Start `python -c <sleep> *args` (cwd, env as given); each is killed after the test."""
    started: list[subprocess.Popen] = []

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            new_session: bool = True) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", SLEEP, *args], cwd=cwd, env=env,
                                   stdout=subprocess.PIPE, text=True, start_new_session=new_session)
        started.append(process)
        assert process.stdout.readline().strip() == "ready"  # its signal handlers are in place
        return process

    run.argv = [sys.executable, "-c", SLEEP]  # what each process's command line starts with
    yield run
    for process in started:
        process.kill()
        process.wait()
        process.stdout.close()
