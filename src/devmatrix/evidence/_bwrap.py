"""The bubblewrap command line of one sandboxed run: namespaces, mounts, environment, rlimits.

What the sandbox sees: /usr (and the /bin, /lib, /lib64 links into it) read-only; the
Python that runs DevMatrix (its prefix, its virtualenv, its site-packages) read-only at
the same paths; a fresh /proc of its own pid namespace; a minimal /dev; a tmpfs /tmp; and
the work dir, a tmpfs holding copies of the files under check. Nothing else of the host:
no /etc, no /home, /root or /work beyond those read-only Python paths, so no settings
file, no key and no project source is there to read. The network namespace is new and
has no interface but an unconfigured loopback.

Who it runs as. When DevMatrix runs as root (these machines), bwrap runs privileged and
without a user namespace: in one, uid 0 inside maps to root outside, and the kernel's
permission checks use that outside uid, so a 0600 root-owned secret would still be
readable if it were ever mounted. Instead the command is started through `setpriv` as a
random unprivileged uid (SANDBOX_UID_FIRST…), with no capabilities and no_new_privs.
Parent directories of the read-only mounts are made 0755 inside (bwrap would create
/root 0700, like the host's, and the unprivileged uid could not reach the interpreter).
When DevMatrix runs as a normal user, bwrap makes a user namespace and the code runs as
that same user, which is already unprivileged; the mounts above are the boundary.

Limits are set by `prlimit` inside the sandbox, on the command only (not on bwrap's own
pid 1): address space, CPU seconds, processes, file size, open files, no core dumps.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from devmatrix.evidence._constants import (
    SANDBOX_FILE_SIZE_BYTES,
    SANDBOX_MAX_OPEN_FILES,
    SANDBOX_TMPFS_BYTES,
    SANDBOX_WORKDIR,
)

PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own tmpfs, not the host's /tmp
# The environment inside: nothing of the host's (--clearenv), only what Python needs.
SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": SANDBOX_TMP,
    "TMPDIR": SANDBOX_TMP,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    # the host venv's pytest plugins (xdist, timeout, hypothesis …) stay out: a bare pytest
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}


@dataclass(frozen=True)
class Limits:
    """The rlimits of one run (what prlimit sets inside the sandbox)."""

    memory_mb: int
    cpu_s: int
    processes: int


def python_paths() -> list[Path]:
    """The host directories the running interpreter needs, outermost first, none inside another:
    its base prefix (stdlib, binary), its virtualenv, and every site-packages on sys.path (a
    `.pth` file may add another virtualenv's). Never the project's own source."""
    wanted = {Path(sys.base_prefix), Path(sys.prefix)}
    wanted |= {Path(entry) for entry in sys.path
               if entry and Path(entry).name in ("site-packages", "dist-packages") and Path(entry).is_dir()}
    resolved = sorted({path.resolve() for path in wanted} | wanted, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if path.is_dir() and not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return [path for path in kept if not path.is_relative_to("/usr")]  # /usr is mounted whole


def command(*, bwrap: str, argv: Sequence[str], files: Sequence[tuple[str, int]], limits: Limits,
            status_fd: int, uid: int | None) -> list[str]:
    """bwrap's argv. ``files``: (path relative to the work dir, a readable fd with its content).
    ``uid``: the unprivileged uid to become (DevMatrix runs as root), or None (it does not)."""
    args = [bwrap, "--die-with-parent", "--new-session", "--json-status-fd", str(status_fd)]
    if uid is None:
        args += ["--unshare-all"]
    else:  # privileged bwrap, no user namespace (see the module docstring)
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
             "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
             "--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(SANDBOX_TMPFS_BYTES), "--tmpfs", SANDBOX_TMP,
             "--perms", "0777", "--size", str(SANDBOX_TMPFS_BYTES), "--tmpfs", SANDBOX_WORKDIR]
    made = {"/", "/usr", SANDBOX_TMP, SANDBOX_WORKDIR}
    for path in python_paths():
        args += _parents(PurePosixPath(path), made, "0755")
        args += ["--ro-bind", str(path), str(path)]
    for relative, fd in files:
        target = PurePosixPath(SANDBOX_WORKDIR) / relative
        args += _parents(target, made, "0777")  # the code may write beside its files
        args += ["--perms", "0644", "--file", str(fd), str(target)]
    args += ["--chdir", SANDBOX_WORKDIR, "--clearenv"]
    for name, value in SANDBOX_ENV.items():
        args += ["--setenv", name, value]
    args += ["--", PRLIMIT, f"--as={limits.memory_mb * 1024 * 1024}",
             f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",  # SIGXCPU first, SIGKILL a second later
             f"--nproc={limits.processes}", f"--fsize={SANDBOX_FILE_SIZE_BYTES}",
             f"--nofile={SANDBOX_MAX_OPEN_FILES}", "--core=0", "--"]
    if uid is not None:
        args += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    return [*args, *argv]


def _parents(path: PurePosixPath, made: set[str], mode: str) -> list[str]:
    """`--dir` for each missing parent of ``path``, with ``mode``, outermost first."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) not in made:
            made.add(str(parent))
            args += ["--perms", mode, "--dir", str(parent)]
    return args


def running_as_root() -> bool:
    return os.geteuid() == 0
