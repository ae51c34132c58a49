"""One lock per state directory for the commands that change the stack.

`infra.up/down/restart`, `phase1`, `restore`, `cleanup` and `monitoring.up/down`
each hold it while they run, so two of them never start and stop the same servers
at once. A second command waits, saying on stderr which command holds the lock,
and gives up with a clear error after `STACK_LOCK_TIMEOUT_S`.

The lock is an OS file lock (`filelock`): it is released when its holder exits,
even by `kill -9`, so it can never be left stale. Beside it, a small JSON file
names the holder (command, pid, since when) for the waiting command's message.
The lock is reentrant within one thread: a command that calls another keeps it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from devmatrix.errors import StackBusy
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack._constants import STACK_LOCK_POLL_S, STACK_LOCK_TIMEOUT_S

LOCK_FILE = "stack.lock"
HOLDER_FILE = "stack.lock.json"


@contextlib.contextmanager
def stack_lock(state_dir: Path, command: str, *, timeout: float = STACK_LOCK_TIMEOUT_S,
               echo: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the stack lock of ``state_dir`` while the block runs, as ``command``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    lock = FileLock(path, is_singleton=True)
    _acquire(lock, state_dir / HOLDER_FILE, timeout, echo)
    outermost = lock.lock_counter == 1
    if outermost:
        _write_holder(state_dir / HOLDER_FILE, command)
    try:
        yield
    finally:
        if outermost:
            (state_dir / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()


def holder(state_dir: Path) -> str:
    """Who holds the lock, in words, as its holder wrote it down."""
    try:
        info = json.loads((state_dir / HOLDER_FILE).read_text())
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"`invoke {info['command']}` (pid {info['pid']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another command (it has not written its name yet)"


def _acquire(lock: FileLock, holder_file: Path, timeout: float, echo: Callable[[str], None]) -> None:
    try:
        lock.acquire(blocking=False)
        return
    except Timeout:
        pass
    deadline = time.monotonic() + timeout
    told = [""]

    def acquired() -> bool | None:
        """One try, blocking at most STACK_LOCK_POLL_S (filelock's own wait paces the poll)."""
        who = holder(holder_file.parent)
        if who != told[0]:  # say it again when another command took the lock meanwhile
            echo(f"waiting for {who} to finish: it holds the stack lock {lock.lock_file}"
                 f" (giving up after {timeout:g} s) …")
            told[0] = who
        try:
            lock.acquire(timeout=max(0.0, min(STACK_LOCK_POLL_S, deadline - time.monotonic())))
            return True
        except Timeout:
            return None

    try:
        poll(acquired, timeout_s=timeout, wait_s=0)
    except PollTimedOut:
        raise StackBusy(
            f"the stack is still locked by {told[0]} after waiting {timeout:g} s",
            fix="let that command finish, then run this one again (the lock frees itself"
                " when its holder exits, even if it is killed)",
        ) from None


def _write_holder(path: Path, command: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"command": command, "pid": os.getpid(), "since": time.time()}))
    tmp.replace(path)  # a waiting command never reads half a file
