"""Faults injected into this stack's own processes: kill (SIGKILL) and freeze (SIGSTOP, then SIGCONT).

A service's processes are found through this stack's supervisor (its pid) and
the process tree under it; the supervisor itself through its pid file in the
state dir. Nothing is ever chosen by process name, so another stack on the
same machine is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field

import psutil

from devmatrix.errors import DevMatrixError
from devmatrix.stack._supervisor import Supervisor

FAULTS = ("kill", "freeze")


@dataclass
class Injected:
    """What was done to which pids, so a freeze can be undone."""

    service: str
    fault: str
    pids: list[int] = field(default_factory=list)
    thawed: bool = False


def supervisor_pid(supervisor: Supervisor) -> int | None:
    pidfile = supervisor.config_file.parent / "supervisord.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def service_pids(supervisor: Supervisor, service: str) -> list[int]:
    """The pids of ``service`` (its supervised process and every child), or of supervisord."""
    if service == "supervisor":
        pid = supervisor_pid(supervisor)
        return [pid] if pid else []
    pid = supervisor.info().get(service, {}).get("pid") or 0
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return []


def inject(supervisor: Supervisor, service: str, fault: str) -> Injected:
    if fault not in FAULTS:
        raise DevMatrixError(f"unknown fault {fault!r}", fix=f"choose from: {', '.join(FAULTS)}")
    pids = service_pids(supervisor, service)
    if not pids:
        raise DevMatrixError(f"{service} has no running process in this stack ({supervisor.state_dir})",
                             fix="`invoke infra.up` first (chaos needs a healthy stack)")
    sig = signal.SIGKILL if fault == "kill" else signal.SIGSTOP
    for pid in pids:
        _signal(pid, sig)
    return Injected(service, fault, pids)


def thaw(injected: Injected) -> None:
    """Undo a freeze (SIGCONT); harmless after a kill or a second call."""
    if injected.fault == "freeze" and not injected.thawed:
        for pid in injected.pids:
            _signal(pid, signal.SIGCONT)
        injected.thawed = True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: the fault wins either way
        os.kill(pid, sig)
