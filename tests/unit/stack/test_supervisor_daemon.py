"""A real supervisord, driven over its socket: it starts from the config we render, answers with its
pid, and adds, starts, replaces and stops a program by name. The program is a sleeping Python
process; nothing listens on a port."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from devmatrix.retry import poll
from devmatrix.stack import system
from devmatrix.stack._supervisor import Program, Supervisor

pytestmark = pytest.mark.unit

SLACK_S = 10.0  # a loaded 2-core machine


def _sleeper(tmp_path: Path, seconds: int = 60) -> Program:
    return Program("sleeper", [sys.executable, "-c", f"import time; time.sleep({seconds})"], directory=tmp_path,
                   log_file=tmp_path / "sleeper.log", stop_wait_s=1)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    """A Supervisor of a fresh state dir; its daemon, when started, is shut down after the test."""
    supervisor = Supervisor(tmp_path / "state")
    yield supervisor
    pid = supervisor.pid()
    if pid is not None:
        supervisor.request_shutdown()  # it stops its programs first
        psutil.Process(pid).wait(timeout=SLACK_S)


def _state(supervisor: Supervisor, name: str) -> str:
    return supervisor.info().get(name, {}).get("statename", "absent")


def _running(supervisor: Supervisor, name: str) -> psutil.Process:
    """The program's process once supervisord says RUNNING (its startsecs passed: it has exec'd)."""
    poll(lambda: _state(supervisor, name) == "RUNNING" or None, timeout_s=SLACK_S, wait_s=0.1)
    return psutil.Process(supervisor.info()[name]["pid"])


def test_a_started_supervisord_answers_on_its_socket_with_its_pid(supervisor, tmp_path):
    assert not supervisor.running() and supervisor.pid() is None
    supervisor.write_config([_sleeper(tmp_path)], run_as_root=system.is_root())
    supervisor.start_daemon()
    assert supervisor.running()
    daemon = psutil.Process(supervisor.pid())
    assert str(supervisor.config_file) in daemon.cmdline()  # the pid is this state dir's supervisord
    supervisor.start_daemon()  # already running: nothing happens
    assert supervisor.pid() == daemon.pid


def test_a_program_is_added_started_replaced_and_stopped_by_name(supervisor, tmp_path):
    supervisor.write_config([_sleeper(tmp_path)], run_as_root=system.is_root())
    supervisor.start_daemon()
    supervisor.sync(["sleeper"])
    assert _state(supervisor, "sleeper") == "STOPPED"  # added, not started: autostart=false
    supervisor.start("sleeper")
    supervisor.start("sleeper")  # already started: not an error
    first = _running(supervisor, "sleeper")
    assert first.cmdline()[-1] == "import time; time.sleep(60)"

    # a changed program: sync stops the old one and adds the new one in its place
    assert supervisor.write_config([_sleeper(tmp_path, seconds=61)], run_as_root=system.is_root())
    supervisor.sync(["sleeper"])
    assert not first.is_running() or first.status() == psutil.STATUS_ZOMBIE
    supervisor.start("sleeper")
    second = _running(supervisor, "sleeper")
    assert second.cmdline()[-1] == "import time; time.sleep(61)"

    supervisor.request_stop("sleeper")
    poll(lambda: _state(supervisor, "sleeper") == "STOPPED" or None, timeout_s=SLACK_S, wait_s=0.1)
    assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE
    supervisor.request_stop("sleeper")  # not running: not an error


def test_deep_state_dirs_each_get_a_short_socket_of_their_own(tmp_path):
    deep = tmp_path.joinpath(*["d" * 20] * 6)
    a, b = Supervisor(deep / "a"), Supervisor(deep / "b")
    assert len(str(a.socket)) < 108 and len(str(b.socket)) < 108
    assert a.socket != b.socket  # two stacks never talk to each other's supervisord
    assert Supervisor(deep / "a").socket == a.socket  # and a stack finds its own again
