"""Run a command on untrusted (generated) code inside Debian's bubblewrap, and nowhere else.

A run gets copies of the given files in a tmpfs work dir, no network, a read-only view of
the system and of Python only, an unprivileged user, rlimits on memory, CPU seconds,
processes and file size, a wall-clock deadline and a cap on its output (the command line
and what the sandbox sees: _bwrap.py). Whatever happens, nothing of it is left running: the
sandbox is a pid namespace whose pid 1 is bwrap's, killed with it, and, when DevMatrix runs
as root, every process of the run's one-off uid is found and killed afterwards (the sweep).

Where bwrap is missing or cannot make its namespaces, SandboxUnavailable is raised: the code
is never run some other way.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

from devmatrix.config import Settings
from devmatrix.deadlines import SANDBOX_KILL_WAIT_S, SANDBOX_PROBE_TIMEOUT_S, SANDBOX_WALL_S
from devmatrix.errors import EvidenceError, SandboxUnavailable
from devmatrix.evidence import _bwrap
from devmatrix.evidence._constants import (
    NAMESPACE_POLL_S,
    SANDBOX_MAX_PROCESSES,
    SANDBOX_OUTPUT_BYTES,
    SANDBOX_UID_COUNT,
    SANDBOX_UID_FIRST,
)
from devmatrix.evidence._limits import limits_hit
from devmatrix.retry import PollTimedOut, poll

INSTALL_FIX = ("install bubblewrap (`apt-get install bubblewrap`, or"
               " `bash scripts/apt-install.sh infra/apt-packages.txt`)")
# bwrap is there but the kernel or a container refused its namespaces.
NAMESPACE_FIX = ("let bubblewrap make namespaces: run DevMatrix as root, or allow unprivileged user namespaces"
                 " (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0; in a container,"
                 " a seccomp profile that permits clone(CLONE_NEWUSER)); `bwrap --ro-bind / / true` must succeed")


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed run did. ``limits_hit`` names each limit or boundary the code met
    (see devmatrix.evidence._limits), e.g. ("wall",) for a loop killed at the deadline."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    limits_hit: tuple[str, ...] = ()
    truncated: bool = False  # an output stream passed SANDBOX_OUTPUT_BYTES (and the run was killed)
    uid: int | None = None  # the one-off host uid it ran as (as root), None when it ran as the caller

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.limits_hit


@dataclass
class Sandbox:
    """Runs commands under bubblewrap with the limits from Settings."""

    memory_mb: int
    cpu_s: int
    wall_s: float = SANDBOX_WALL_S
    python: str = sys.executable
    _checked: bool = field(default=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Sandbox:
        return cls(memory_mb=settings.sandbox_memory_mb, cpu_s=settings.sandbox_cpu_s)

    def run_python(self, args: Sequence[str], files: Mapping[str, bytes]) -> SandboxResult:
        """``python args…`` in the sandbox, with the interpreter (and packages) running DevMatrix."""
        return self.run([self.python, *args], files)

    def run(self, argv: Sequence[str], files: Mapping[str, bytes]) -> SandboxResult:
        """Run ``argv`` in the work dir holding ``files`` (relative path → content)."""
        self.check()
        return _run_once(self._bwrap(), argv, files, self._limits(), self.wall_s)

    def check(self) -> None:
        """Raise SandboxUnavailable unless bwrap can make a sandbox here (probed once)."""
        if self._checked:
            return
        result = _run_once(self._bwrap(), ["/bin/true"], {}, self._limits(), SANDBOX_PROBE_TIMEOUT_S)
        if result.exit_code != 0:
            raise SandboxUnavailable(f"a bubblewrap sandbox running /bin/true failed (exit {result.exit_code}):"
                                     f" {result.stderr.strip()[:500]}", fix=NAMESPACE_FIX)
        self._checked = True

    def _bwrap(self) -> str:
        found = shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable("bwrap (bubblewrap) is not installed: generated code is never run"
                                     " without its sandbox, so no evidence can be gathered", fix=INSTALL_FIX)
        return found

    def _limits(self) -> _bwrap.Limits:
        processes = SANDBOX_MAX_PROCESSES
        if not _bwrap.running_as_root():
            # As a normal user the sandbox runs as that user, and RLIMIT_NPROC counts every
            # process of that uid on the machine: allow what it runs already, plus ours.
            me = os.getuid()
            processes += sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"].real == me)
        return _bwrap.Limits(memory_mb=self.memory_mb, cpu_s=self.cpu_s, processes=processes)


def _run_once(bwrap: str, argv: Sequence[str], files: Mapping[str, bytes], limits: _bwrap.Limits,
              wall_s: float) -> SandboxResult:
    uid = SANDBOX_UID_FIRST + secrets.randbelow(SANDBOX_UID_COUNT) if _bwrap.running_as_root() else None
    fds = [(name, _memfd(name, content)) for name, content in files.items()]
    status_read, status_write = os.pipe()
    start = time.monotonic()
    try:
        command = _bwrap.command(bwrap=bwrap, argv=argv, files=fds, limits=limits, status_fd=status_write, uid=uid)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   pass_fds=[status_write, *(fd for _, fd in fds)], cwd="/",
                                   env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
    finally:
        os.close(status_write)
        for _, fd in fds:
            os.close(fd)
    streams: dict[str, bytes] = {"status": b""}
    try:
        streams, killed = _collect(process, status_read, start + wall_s)
    finally:
        os.close(status_read)
        _end(process)
        _wait_for_namespace(_status(streams["status"]).get("child-pid"))
        _sweep(uid)
    status = _status(streams["status"])
    if "child-pid" not in status and not killed:  # bwrap failed before starting the command
        raise SandboxUnavailable(f"bubblewrap could not set up the sandbox (exit {process.returncode}):"
                                 f" {streams['stderr'][:500].decode(errors='replace').strip()}", fix=NAMESPACE_FIX)
    exit_code = status.get("exit-code", process.returncode)
    stdout, stderr = (streams[name].decode(errors="replace") for name in ("stdout", "stderr"))
    return SandboxResult(exit_code=exit_code, stdout=stdout, stderr=stderr, seconds=time.monotonic() - start,
                         limits_hit=limits_hit(exit_code, stdout + stderr, killed),
                         truncated="output" in killed, uid=uid)


def _memfd(name: str, content: bytes) -> int:
    """An anonymous in-memory file holding ``content``, for bwrap's `--file FD DEST`."""
    fd = os.memfd_create(f"devmatrix-evidence:{name}"[:200], 0)  # not close-on-exec: bwrap reads it
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _collect(process: subprocess.Popen, status_fd: int, deadline: float) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """Read stdout, stderr and bwrap's status until they close; kill the run at the deadline or
    when an output passes its cap. Returns what was read and why the run was killed, if it was:
    ("wall",), ("wall", "processes") when it held every process slot then, or ("output",)."""
    assert process.stdout is not None and process.stderr is not None
    streams = {"stdout": b"", "stderr": b"", "status": b""}
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "stdout")
    selector.register(process.stderr, selectors.EVENT_READ, "stderr")
    selector.register(status_fd, selectors.EVENT_READ, "status")
    try:
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                crowded = _tasks(_status(streams["status"]).get("child-pid")) >= SANDBOX_MAX_PROCESSES
                _kill(process)
                return streams, ("wall", "processes") if crowded else ("wall",)
            for key, _ in selector.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                streams[key.data] += chunk
                if key.data != "status" and len(streams[key.data]) > SANDBOX_OUTPUT_BYTES:
                    streams[key.data] = streams[key.data][:SANDBOX_OUTPUT_BYTES]
                    _kill(process)
                    return streams, ("output",)
    finally:
        selector.close()
    return streams, ()


def _tasks(child_pid: int | None) -> int:
    """Processes and threads under the sandbox's pid 1 (what RLIMIT_NPROC counts), now."""
    if child_pid is None:
        return 0
    count = 0
    with contextlib.suppress(psutil.Error):
        for process in psutil.Process(child_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                count += process.num_threads()
    return count


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL bwrap's process group: its pid 1 dies with it (--die-with-parent), and the
    kernel kills every process left in the pid namespace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _end(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=SANDBOX_KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.wait(timeout=SANDBOX_KILL_WAIT_S)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _wait_for_namespace(child_pid: int | None) -> None:
    """Wait until the sandbox's pid 1 has exited. When a pid namespace's init exits, the kernel
    kills every other process in it and does not let init finish exiting (become a zombie, or
    vanish) until they are all reaped: so then the whole run is gone."""
    if child_pid is None:
        return
    def gone() -> bool | None:
        try:  # a zombie: its parent (bwrap, already gone) left the reaping to init
            return psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE or None
        except psutil.NoSuchProcess:
            return True

    # past the deadline the run goes on to _sweep, which finds (and raises about) what still runs
    with contextlib.suppress(PollTimedOut):
        poll(gone, timeout_s=SANDBOX_KILL_WAIT_S, wait_s=NAMESPACE_POLL_S)


def _sweep(uid: int | None) -> None:
    """Kill whatever still runs as the run's one-off uid. The pid namespace makes this find
    nothing; if it ever finds something, that is a containment failure and is raised."""
    if uid is None:
        return
    left = [p for p in psutil.process_iter(["uids"]) if uid in (p.info["uids"] or ())]
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    _, alive = psutil.wait_procs(left, timeout=SANDBOX_KILL_WAIT_S)
    if left:
        raise EvidenceError(f"{len(left)} process(es) of sandbox uid {uid} outlived their sandbox"
                            f" ({len(alive)} still alive after SIGKILL): pids {[p.pid for p in left]}",
                            fix="this is a bug in devmatrix.evidence: report it with the code that was checked")


def _status(raw: bytes) -> dict:
    """bwrap's --json-status-fd: several JSON documents, one after another, merged."""
    merged: dict = {}
    decoder, text, index = json.JSONDecoder(), raw.decode(errors="replace"), 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            break
        merged |= document
    return merged
