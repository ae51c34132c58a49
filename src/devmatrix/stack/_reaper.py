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
    while pending:
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
        if pending:
            time.sleep(STOP_POLL_S)
    return notes


def wait_ports_free(ports: Iterable[tuple[str, int]], ours: Callable[[int | None], bool]) -> None:
    """Wait until no process of ours listens on these (service, port) pairs."""
    deadline = time.monotonic() + PORT_RELEASE_TIMEOUT_S
    for service, port in ports:
        while (holder := system.port_holder(port)) is not None and ours(holder[0]):
            if time.monotonic() > deadline:
                raise ServiceError(
                    service, f"port {port} is still held by {holder[1]} after it was stopped",
                    fix=f"stop it by hand (`kill {holder[0]}`), then `invoke infra.up`",
                )
            time.sleep(STOP_POLL_S)


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
