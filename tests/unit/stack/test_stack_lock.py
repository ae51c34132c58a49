"""The stack lock: a second command waits and says for whom, gives up clearly, never goes stale."""

from __future__ import annotations

import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devmatrix.stack.stack_lock import StackBusy, stack_lock

pytestmark = pytest.mark.unit

HOLD = """
import sys, time
from pathlib import Path
from devmatrix.stack.stack_lock import stack_lock
with stack_lock(Path(sys.argv[1]), "phase1", echo=lambda _: None):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    print("releasing", flush=True)
"""


@pytest.fixture
def holder(tmp_path: Path):
    """Another process that takes the lock as `invoke phase1` and keeps it ``seconds``."""
    started: list[subprocess.Popen] = []

    def hold(seconds: float) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), str(seconds)],
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait()
        process.stdout.close()


def test_a_second_command_gives_up_after_its_deadline_naming_the_holder(tmp_path, holder):
    other = holder(60)
    said: list[str] = []
    start = time.monotonic()
    with pytest.raises(StackBusy) as caught, stack_lock(tmp_path, "infra.up", timeout=0.5, echo=said.append):
        pytest.fail("the lock was taken while another process held it")
    assert 0.5 <= time.monotonic() - start < 5
    message = str(caught.value)
    assert f"the stack is still locked by `invoke phase1` (pid {other.pid}" in message
    assert "after waiting 0.5 s — fix:" in message
    assert len(said) == 1 and said[0].startswith(f"waiting for `invoke phase1` (pid {other.pid}")
    assert str(tmp_path / "stack.lock") in said[0]


def test_a_second_command_waits_for_the_first_then_runs(tmp_path, holder):
    other = holder(1.5)
    said: list[str] = []
    with stack_lock(tmp_path, "infra.down", timeout=30, echo=said.append):
        # it ran to the end of its hold first: its last word, said while it still held the lock, is
        # already in the pipe (no wait on its exit: a busy machine takes seconds to end a Python)
        assert select.select([other.stdout], [], [], 0)[0] and other.stdout.readline().strip() == "releasing"
        assert "infra.down" in (tmp_path / "stack.lock.json").read_text()
    assert len(said) == 1 and "waiting for `invoke phase1`" in said[0]
    assert not (tmp_path / "stack.lock.json").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    other = holder(60)
    other.kill()
    other.wait()
    said: list[str] = []
    with stack_lock(tmp_path, "infra.up", timeout=2, echo=said.append):
        pass
    assert said == []  # taken at once: the OS freed the lock with its holder


def test_two_threads_are_serialised_too(tmp_path):
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with stack_lock(tmp_path, "phase1", echo=lambda _: None):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(5)
        with pytest.raises(StackBusy, match="locked by `invoke phase1`"), \
                stack_lock(tmp_path, "infra.up", timeout=0.3, echo=lambda _: None):
            pass
    finally:
        release.set()
        thread.join(10)
    with stack_lock(tmp_path, "infra.up", timeout=0.3, echo=lambda _: None):
        pass


def test_the_lock_is_reentrant_within_a_command(tmp_path):
    with stack_lock(tmp_path, "restore", timeout=0.3, echo=lambda _: None):
        with stack_lock(tmp_path, "infra.up", timeout=0.3, echo=lambda _: None):
            pass
        # the inner block did not release it, nor rename the holder
        assert '"restore"' in (tmp_path / "stack.lock.json").read_text()
    assert not (tmp_path / "stack.lock.json").exists()
