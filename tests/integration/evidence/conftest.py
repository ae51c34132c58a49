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


class _RecordingSandbox(Sandbox):
    """The sandbox, keeping the one-off uid of each of its runs: the checks below look at this
    test's runs only (other tests' generations, in the processes beside this one, use sandboxes too)."""

    ran_as: set[int]

    def run(self, argv, files):
        result = super().run(argv, files)
        if result.uid is not None:
            self.ran_as.add(result.uid)
        return result


@pytest.fixture
def sandbox(settings: Settings) -> Sandbox:
    """The sandbox with the settings' memory limit and short CPU and wall limits."""
    box = _RecordingSandbox(memory_mb=settings.sandbox_memory_mb, cpu_s=TEST_CPU_S, wall_s=TEST_WALL_S)
    box.ran_as = set()
    return box


def _is_sandbox_uid(uid: int) -> bool:
    return SANDBOX_UID_FIRST <= uid < SANDBOX_UID_FIRST + SANDBOX_UID_COUNT


def _processes_of(marker: str, uids: set[int] = frozenset()) -> list[psutil.Process]:
    """Processes whose command line names the marker, or that run as one of ``uids``."""
    found = []
    for process in psutil.process_iter(["uids", "cmdline"]):
        uids_now, cmdline = process.info["uids"], " ".join(process.info["cmdline"] or ())
        if marker in cmdline or (uids_now and uids & set(uids_now)):
            found.append(process)
    return found


@pytest.fixture
def marker(sandbox: _RecordingSandbox) -> Iterator[str]:
    """A token unique to the test, on its generated code's command line. Afterwards no process may
    carry it or run as a uid one of the test's sandboxed runs ran as."""
    token = f"devmatrix-evidence-{uuid.uuid4().hex}"
    yield token
    assert all(_is_sandbox_uid(uid) for uid in sandbox.ran_as)
    left = _processes_of(token, sandbox.ran_as)
    assert not left, f"left running on the host: {[(p.pid, p.info['cmdline']) for p in left]}"


@pytest.fixture
def sandbox_tasks(marker: str) -> Callable[[], int]:
    """Counts, now, the processes and threads of the test's generated code, which is what the run's
    RLIMIT_NPROC counts: those running as a sandbox uid (not bwrap, root, whose command line
    names the marker too) and carrying the marker (a fork keeps the command line)."""
    def count() -> int:
        total = 0
        for process in _processes_of(marker):
            with contextlib.suppress(psutil.Error):  # it ended between the listing and now
                if any(_is_sandbox_uid(uid) for uid in process.info["uids"] or ()):
                    total += process.num_threads()
        return total

    return count
