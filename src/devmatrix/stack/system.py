"""What the native provider needs from the operating system.

System packages are installed when we are root and apt exists; otherwise the
exact command is printed in the error. Nothing is installed silently behind a
non-root user's back.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
from pathlib import Path

import psutil

from devmatrix.errors import InstallError

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
APT_TIMEOUT_S = 900
USERADD_TIMEOUT_S = 30  # a local /etc/passwd edit; longer means a stuck lock (e.g. a held /etc/.pwd.lock)


# Where free_ports draws from: above the well-known service ports (5432, 6379, 8000, 9090 …)
# and below the kernel's ephemeral range. Ports the kernel hands out (bind to port 0, and
# the source port of every outgoing connection) come from that range, so a port taken from
# it and released can be reused as a connection's source port before our server binds it:
# on a busy machine (a test run's thousands of connections) that happened. Below the range
# only another deliberate listener can take it, and the draw is random so two stacks made at
# once do not pick the same ports.
PICK_FROM = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PICK_ATTEMPTS = 200


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; elsewhere the kernel's own pick (below) is the fallback


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct loopback ports that nothing listens on now (bound together, then
    released): for scratch servers and tests. Drawn at random below the ephemeral range (see
    PICK_FROM); where that range leaves no room, the kernel picks. Use them at once: another
    listener may still take one."""
    sockets: list[socket.socket] = []
    try:
        end = _ephemeral_start()
        draw = random.SystemRandom()
        for _ in range(PICK_ATTEMPTS if end - PICK_FROM > 10 * count else 0):
            if len(sockets) == count:
                break
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", draw.randrange(PICK_FROM, end)))
            except OSError:  # taken: draw again
                probe.close()
                continue
            sockets.append(probe)
        while len(sockets) < count:
            probe = socket.socket()
            sockets.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def free_port() -> int:
    return free_ports(1)[0]


def is_root() -> bool:
    return os.geteuid() == 0


def missing_programs(programs: dict[str, str]) -> dict[str, str]:
    """Programs (name -> Debian package) that are not on PATH."""
    return {prog: pkg for prog, pkg in programs.items() if shutil.which(prog) is None}


def ensure_programs(programs: dict[str, str], *, echo=print) -> None:
    """Install the Debian packages providing ``programs`` unless all are present."""
    missing = missing_programs(programs)
    if not missing:
        return
    packages = sorted(set(missing.values()))
    command = f"apt-get update && apt-get install -y --no-install-recommends {' '.join(packages)}"
    if not is_root() or shutil.which("apt-get") is None:
        raise InstallError(
            f"missing program(s) {', '.join(sorted(missing))} (Debian package(s)"
            f" {', '.join(packages)}), and this user cannot install them",
            fix=f"run as root: sudo sh -c '{command}'",
        )
    echo(f"installing {', '.join(packages)} (apt-get) …")
    for args in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]):
        result = subprocess.run(args, env=APT_ENV, capture_output=True, text=True,
                                timeout=APT_TIMEOUT_S, check=False)
        if result.returncode != 0:
            raise InstallError(
                f"`{' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()[-500:]}",
                fix=f"run it by hand to see why: {command}",
            )
    still = missing_programs(programs)
    if still:
        raise InstallError(f"{', '.join(still)} still missing after installing {packages}")


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """A locked system account to run a server that must not run as root."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if not is_root():
        raise InstallError(
            f"system user {name!r} does not exist and only root can create it",
            fix=f"sudo useradd --system --user-group --no-create-home --shell /usr/sbin/nologin {name}",
        )
    # --user-group: the state dir is made traversable by the group of the same name
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=USERADD_TIMEOUT_S)
    except subprocess.CalledProcessError as error:  # e.g. a group of that name already exists
        raise InstallError(f"cannot create the system user {name!r}: useradd exited {error.returncode}:"
                           f" {(error.stderr or '').strip()[-300:]}",
                           fix=f"create it by hand (`{' '.join(command)}`), or set POSTGRES_SYSTEM_USER to an"
                               " account that exists") from error
    except subprocess.TimeoutExpired as error:  # the user database is locked (another useradd runs)
        raise InstallError(f"cannot create the system user {name!r}: useradd did not finish within"
                           f" {USERADD_TIMEOUT_S:g} s", fix="run the command again once no other useradd runs"
                           ) from error
    return pwd.getpwnam(name)


def user_can_reach(user: str, path: Path, *, mode: str = "-x") -> bool:
    """Whether ``user`` can traverse to and use ``path`` (every parent must be searchable)."""
    if not is_root():
        return os.access(path, os.X_OK if mode == "-x" else os.W_OK)
    result = subprocess.run(["test", mode, str(path)], user=user, group=user, check=False)  # as the server runs
    return result.returncode == 0


def chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    if not path.is_dir():
        os.chown(path, entry.pw_uid, entry.pw_gid)
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def port_holder(port: int, host: str = "127.0.0.1") -> tuple[int | None, str] | None:
    """Who listens on ``port`` (pid, description), or None when it is free."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        connections = []
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.laddr.ip not in {host, "0.0.0.0", "::", "127.0.0.1", "::1"}:  # noqa: S104
                continue
            return conn.pid, describe_process(conn.pid)
    return None


def describe_process(pid: int | None) -> str:
    if pid is None:
        return "a process this user cannot see (run as root to name it)"
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline())[:120] or proc.name()
        return f"pid {pid} ({cmdline})"
    except psutil.Error:
        return f"pid {pid}"


def process_tree_pids(pid: int) -> set[int]:
    """A process and its descendants (a supervised program may fork its server)."""
    try:
        proc = psutil.Process(pid)
        return {pid, *(child.pid for child in proc.children(recursive=True))}
    except psutil.Error:
        return {pid}
