"""Stopping processes of the stack and waiting until they are really gone.

`infra.down` returns only when every process it stopped has exited and its port
is free, so an `infra.up` right after it never meets our own server on the port.
A process that ignores its stop signal past its grace time is killed with its
process group (SIGKILL), and the caller is told so.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable

import psutil

from devmatrix.errors import ServiceError
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack import system
from devmatrix.stack._constants import KILL_WAIT_S, PORT_RELEASE_TIMEOUT_S, STOP_POLL_S
from devmatrix.stack._ownership import Member


def heads(members: list[Member]) -> list[Member]:
    """The top process of each service (its parent is not of the same service): the ones to signal.

    A server stops its own workers; supervisord, though a parent, is not asked to stop its
    programs (it is dead or frozen when we get here), so each server gets its own signal.
    """
    service_of = {m.pid: m.service for m in members}
    return [m for m in members if service_of.get(_ppid(m.process)) != m.service]


def send(member: Member, sig: int) -> None:
    """``sig`` to the member's process group when it leads one (as supervisord starts
    programs), else to the process alone; then SIGCONT, so a frozen process acts on it."""
    for each in (sig, signal.SIGCONT):
        try:
            group = os.getpgid(member.pid)
            if group == member.pid and group != os.getpgrp():
                os.killpg(group, each)
            else:
                os.kill(member.pid, each)
        except (ProcessLookupError, PermissionError):
            return


def wait_gone(members: list[Member], grace: Callable[[Member], float],
              echo: Callable[[str], None]) -> list[str]:
    """Wait until every member has exited; SIGKILL (its group) any past its grace time.

    Returns one line per escalation, also passed to ``echo``. Raises ServiceError when
    a process survives even SIGKILL (stuck in the kernel).
    """
    start = time.monotonic()
    deadline = {m.pid: start + grace(m) for m in members}
    killed: dict[int, float] = {}
    notes: list[str] = []
    pending = list(members)

    def gone() -> bool | None:
        """One look: None while any member lives (SIGKILL for one past its grace), True when none does."""
        nonlocal pending
        pending = [m for m in pending if _alive(m.process)]
        now = time.monotonic()
        for member in pending:
            if member.pid not in killed and now > deadline[member.pid]:
                note = (f"{member.describe()} did not exit within {grace(member):g} s of its stop"
                        " signal: sent SIGKILL to its process group")
                notes.append(note)
                echo(note)
                kill_group(member)
                killed[member.pid] = now
            elif member.pid in killed and now > killed[member.pid] + KILL_WAIT_S:
                raise ServiceError(
                    member.service,
                    f"pid {member.pid} is still alive {KILL_WAIT_S:g} s after SIGKILL"
                    f" ({system.describe_process(member.pid)})",
                    fix=f"see what it waits on: `ps -o pid,stat,wchan:32 -p {member.pid}`"
                        " (state D is a process stuck in the kernel, e.g. on a dead disk)",
                )
        return None if pending else True

    # every member is gone, or has been raised about, within its grace + KILL_WAIT_S: the poll's own
    # deadline (one more look after that) is a backstop that gone() reaches first
    longest = max((grace(m) for m in members), default=0.0) + KILL_WAIT_S + 2 * STOP_POLL_S
    try:
        poll(gone, timeout_s=longest + 1.0, wait_s=STOP_POLL_S)
    except PollTimedOut:  # pragma: no cover - gone() raises first for a member still alive
        raise ServiceError(pending[0].service, f"{pending[0].describe()} is still alive after {longest:g} s",
                           fix=f"`ps -o pid,stat,wchan:32 -p {pending[0].pid}`") from None
    return notes


def wait_ports_free(ports: Iterable[tuple[str, int]], ours: Callable[[int | None], bool]) -> None:
    """Wait until no process of ours listens on these (service, port) pairs."""
    start = time.monotonic()  # one deadline for all the ports, as they free together
    for service, port in ports:
        held: list[tuple[int, str]] = []

        def free(port: int = port, held: list = held) -> bool | None:
            holder = system.port_holder(port)
            if holder is not None and ours(holder[0]):
                held[:] = [holder]
                return None
            return True

        try:
            poll(free, timeout_s=max(0.0, start + PORT_RELEASE_TIMEOUT_S - time.monotonic()), wait_s=STOP_POLL_S)
        except PollTimedOut:
            (pid, description), = held
            raise ServiceError(
                service, f"port {port} is still held by {description} after it was stopped",
                fix=f"stop it by hand (`kill {pid}`), then `invoke infra.up`",
            ) from None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _ppid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


def kill_group(member: Member) -> None:
    """SIGKILL to the member's process group (to the process alone if it shares ours)."""
    try:
        group = os.getpgid(member.pid)
        if group > 1 and group != os.getpgrp():
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(member.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
