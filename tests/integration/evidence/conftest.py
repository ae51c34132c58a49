"""The evidence tests need bubblewrap (a real tool), not the service stack: no fixture here
uses a server, so `pytest -m integration tests/integration/evidence` runs them alone."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from devmatrix.config import Settings
from devmatrix.evidence import Sandbox
from devmatrix.evidence._constants import SANDBOX_UID_COUNT, SANDBOX_UID_FIRST

# Short deadlines, so the cases that run until a limit stops them take seconds.
TEST_WALL_S = 8.0
TEST_CPU_S = 3


@pytest.fixture
def sandbox(settings: Settings) -> Sandbox:
    """The sandbox with the settings' memory limit and short CPU and wall limits."""
    return Sandbox(memory_mb=settings.sandbox_memory_mb, cpu_s=TEST_CPU_S, wall_s=TEST_WALL_S)


def _sandbox_processes(marker: str = "") -> list[psutil.Process]:
    """Processes of a sandbox uid, or (``marker``) whose command line names the marker."""
    found = []
    for process in psutil.process_iter(["uids", "cmdline"]):
        uids, cmdline = process.info["uids"], " ".join(process.info["cmdline"] or ())
        if (uids and any(SANDBOX_UID_FIRST <= uid < SANDBOX_UID_FIRST + SANDBOX_UID_COUNT for uid in uids)) \
                or (marker and marker in cmdline):
            found.append(process)
    return found


@pytest.fixture
def marker() -> Iterator[str]:
    """A token unique to the test; afterwards no process may carry it or run as a sandbox uid."""
    token = f"devmatrix-evidence-{uuid.uuid4().hex}"
    yield token
    left = _sandbox_processes(token)
    assert not left, f"left running on the host: {[(p.pid, p.info['cmdline']) for p in left]}"


@pytest.fixture
def sandbox_tasks() -> Callable[[], int]:
    """Counts, now, the processes and threads running as any sandbox uid (what RLIMIT_NPROC counts)."""
    def count() -> int:
        total = 0
        for process in _sandbox_processes():
            with contextlib.suppress(psutil.Error):  # it ended between the listing and now
                total += process.num_threads()
        return total

    return count
