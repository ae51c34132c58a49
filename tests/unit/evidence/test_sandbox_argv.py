"""The sandbox's command line and how a run's end is read: pure logic, no bwrap needed."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from devmatrix.evidence import _bwrap
from devmatrix.evidence._constants import SANDBOX_WORKDIR
from devmatrix.evidence._limits import limits_hit
from devmatrix.evidence.sandbox import _status

pytestmark = pytest.mark.unit

LIMITS = _bwrap.Limits(memory_mb=512, cpu_s=7, processes=64)


def _command(uid: int | None) -> list[str]:
    return _bwrap.command(bwrap="/usr/bin/bwrap", argv=["python", "-c", "pass"], files=[("pkg/mod.py", 9)],
                          limits=LIMITS, status_fd=5, uid=uid)


def _pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, arg in enumerate(args) if arg == flag]


def test_as_root_the_code_runs_as_the_given_uid_without_capabilities_or_user_namespace():
    args = _command(uid=1_500_000_123)
    inner = args[args.index("--") + 1:]
    assert "--unshare-all" not in args and "--unshare-user" not in args  # uid 0 inside would be root outside
    assert {"--unshare-net", "--unshare-pid", "--unshare-ipc"} <= set(args)
    setpriv = inner[inner.index(_bwrap.SETPRIV):]
    assert setpriv[:8] == [_bwrap.SETPRIV, "--reuid=1500000123", "--regid=1500000123", "--clear-groups",
                           "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    assert setpriv[8:] == ["python", "-c", "pass"]


def test_as_a_user_bwrap_makes_every_namespace_and_no_setpriv():
    args = _command(uid=None)
    assert "--unshare-all" in args and _bwrap.SETPRIV not in args and "--cap-add" not in args


def test_rlimits_are_set_inside_on_the_command_only():
    args = _command(uid=None)
    inner = args[args.index("--") + 1:]
    assert inner[0] == _bwrap.PRLIMIT
    assert f"--as={512 * 1024 * 1024}" in inner and "--cpu=7:8" in inner and "--nproc=64" in inner
    assert "--core=0" in inner


def test_nothing_of_the_host_is_writable_and_only_python_is_mounted():
    args = _command(uid=None)
    assert _pairs(args, "--bind") == [] and "--bind-try" not in args  # no writable host path
    mounted = [source for source, _ in _pairs(args, "--ro-bind")]
    assert mounted[0] == "/usr"
    assert set(mounted[1:]) == {str(p) for p in _bwrap.python_paths()}
    assert not any(Path.cwd().resolve().is_relative_to(m) for m in mounted)  # not the project (.env.test)
    assert "--clearenv" in args


def test_files_are_copied_into_the_work_dir_with_writable_parents():
    args = _command(uid=None)
    assert (f"{SANDBOX_WORKDIR}/pkg/mod.py" in args) and args[args.index(f"{SANDBOX_WORKDIR}/pkg/mod.py") - 1] == "9"
    made = args.index(f"{SANDBOX_WORKDIR}/pkg")
    assert args[made - 3:made] == ["--perms", "0777", "--dir"]


def test_python_paths_hold_the_interpreter_and_none_is_inside_another():
    paths = [*_bwrap.python_paths(), Path("/usr")]
    assert any(Path(sys.executable).resolve().is_relative_to(p) for p in paths)
    assert not any(a != b and a.is_relative_to(b) for a in paths for b in paths)


@pytest.mark.parametrize(("exit_code", "output", "killed", "expected"), [
    (0, "", (), ()),
    (1, "AssertionError", (), ()),
    (128 + signal.SIGXCPU, "", (), ("cpu",)),
    (128 + signal.SIGKILL, "", (), ("cpu",)),  # the hard CPU limit
    (-9, "", ("wall",), ("wall",)),
    (128 + signal.SIGKILL, "", ("wall",), ("wall",)),  # our kill, not the CPU limit's
    (-9, "", ("wall", "processes"), ("wall", "processes")),
    (1, "Traceback …\nMemoryError\n", (), ("memory",)),
    (1, "BlockingIOError: [Errno 11] Resource temporarily unavailable", (), ("processes",)),
    (1, "OSError: [Errno 101] Network is unreachable", (), ("network",)),
    (1, "OSError: [Errno 30] Read-only file system: '/usr/x'", (), ("filesystem",)),
    (-9, "MemoryError MemoryError", ("output",), ("output", "memory")),
])
def test_limits_hit_names_each_limit_once(exit_code, output, killed, expected):
    assert limits_hit(exit_code, output, killed) == expected


def test_status_documents_are_merged():
    raw = b'{ "child-pid": 42, "mnt-namespace": 1 }\n{ "exit-code": 3 }\n'
    assert _status(raw) == {"child-pid": 42, "mnt-namespace": 1, "exit-code": 3}
    assert _status(b"") == {}
    assert _status(b'{ "child-pid": 7 }\n{ "exit-') == {"child-pid": 7}  # cut short by a kill
