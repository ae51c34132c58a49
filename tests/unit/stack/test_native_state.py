"""What the native provider reports and does without a supervisord of its own: the state it reads
from supervisord's answer, `infra.logs`, `infra.status` and `infra.down` of a server left running
without a supervisor, and `up`'s sweep of such servers.

What supervisord answers is not ours to test: where a test needs a live supervisord's answer it
sets ``Supervisor.pid``/``Supervisor.info``. The processes, their signals and ports are real."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.stack._ownership import Member
from devmatrix.stack.base import Probe
from devmatrix.stack.native import UNSUPERVISED, NativeProvider
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit

START = 1765000000  # supervisord's `start`: epoch seconds


@pytest.fixture
def said() -> list[str]:
    """What the provider tells the user (its `echo`)."""
    return []


@pytest.fixture
def stack(tmp_path: Path, said: list[str]) -> NativeProvider:
    """A native stack of a fresh state dir, with no supervisord; its redis port is free (closed)."""
    settings = Settings(devmatrix_state_dir=tmp_path / "state", redis_port=free_port(), llm_backend="local",
                        worker_count=2)
    return NativeProvider(settings, env_file=tmp_path / ".env.test", echo=said.append)


def _ours(stack: NativeProvider, service: str) -> dict[str, str]:
    """The environment supervisord gives its programs: what makes a process this stack's."""
    return {**os.environ, "SUPERVISOR_SERVER_URL": stack.identity.supervisor_url, "SUPERVISOR_PROCESS_NAME": service}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# --- the state read from supervisord's answer -------------------------------------------------
def test_a_running_program_reports_its_pid_and_its_start_time_in_utc(stack):
    state = stack._state(stack.catalog["redis"], {"redis": {"statename": "RUNNING", "pid": 4321, "start": START}})
    assert (state.running, state.pid) == (True, 4321)
    assert state.started_at == datetime.fromtimestamp(START, UTC).isoformat()
    assert state.port == stack.settings.redis_port and state.data_dir == str(stack.catalog["redis"].data_dir)


@pytest.mark.parametrize("info", [{"redis": {"statename": "STOPPED", "pid": 0, "start": START}}, {}],
                         ids=["stopped", "unknown-to-supervisord"])
def test_a_program_not_running_has_no_pid_and_no_start_time(stack, info):
    state = stack._state(stack.catalog["redis"], info)
    assert (state.running, state.pid, state.started_at) == (False, None, None)


def test_the_workers_report_each_process_with_its_node(stack):
    processes = [{"name": "worker-0", "group": "worker", "statename": "RUNNING", "pid": 11, "start": START},
                 {"name": "worker-1", "group": "worker", "statename": "FATAL", "pid": 0, "start": 0}]
    info = {"worker": {**processes[0], "name": "worker", "statename": "STARTING", "processes": processes}}
    state = stack._state(stack.catalog["worker"], info)
    assert state.running and state.pid == 11
    assert [(p["name"], p["pid"], p["state"]) for p in state.processes] == [("worker-0", 11, "RUNNING"),
                                                                           ("worker-1", None, "FATAL")]
    assert state.processes[0]["node"].startswith("worker-0@") and state.processes[1]["node"].startswith("worker-1@")


# --- infra.logs ----------------------------------------------------------------------------
def test_logs_are_the_last_lines_of_the_services_log_even_a_long_one(stack):
    log = stack.catalog["redis"].program.log_file
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {n} {'x' * 100}\n" for n in range(2000)))  # > the 64 KiB read from its end
    assert stack.logs("redis", lines=3).splitlines() == [f"line {n} {'x' * 100}" for n in (1997, 1998, 1999)]


def test_logs_of_a_service_that_never_ran_say_so(stack):
    log = stack.catalog["redis"].program.log_file
    assert stack.logs("redis") == f"(no log yet at {log})"
    log.parent.mkdir(parents=True)
    log.write_text("")
    assert stack.logs("redis") == f"(the log {log} is empty so far)"


# --- a server of this stack without a supervisor ---------------------------------------------
def test_status_shows_a_server_running_without_its_supervisor_with_its_pid(stack, spawn):
    stray = spawn(env=_ours(stack, "redis"))  # not listening: the probe fails at once, the process is seen
    (state,) = stack.status(("redis",))
    assert (state.name, state.running, state.pid, state.healthy) == ("redis", True, stray.pid, False)
    assert state.detail == UNSUPERVISED


def test_up_stops_a_server_left_without_a_supervisor_and_waits_for_its_port(stack, said, spawn):
    stray = spawn(f"listen={stack.settings.redis_port}", env=_ours(stack, "redis"))
    stack._stop_strays({"redis"})
    assert _gone(stray.pid)
    assert said == [f"found redis (pid {stray.pid}) of this stack running without its supervisor"
                          " (supervisord died or hangs): stopping them to restart them under a new one"]


def test_up_leaves_alone_a_server_its_live_supervisor_runs(stack, said, spawn, monkeypatch):
    server = spawn(f"listen={stack.settings.redis_port}", env=_ours(stack, "redis"))
    supervisord = spawn()  # stands in for the live daemon: only its pid is read
    monkeypatch.setattr(stack.supervisor, "pid", lambda: supervisord.pid)
    monkeypatch.setattr(stack.supervisor, "info", lambda: {"redis": {"statename": "RUNNING", "pid": server.pid}})
    stack._stop_strays({"redis"})
    assert not _gone(server.pid) and said == []


def test_the_processes_a_live_supervisor_runs_are_not_strays_and_the_others_are(stack, spawn):
    supervised = Member("redis", psutil.Process(spawn().pid), "test")
    other = Member("api", psutil.Process(spawn().pid), "test")
    members = [supervised, other]
    info = {"redis": {"statename": "RUNNING", "pid": supervised.pid}, "api": {"statename": "EXITED", "pid": 0}}
    assert stack._unmanaged(members, info, live=os.getppid()) == [other]
    assert stack._unmanaged(members, info, live=None) == members  # no live supervisor: every one is


def test_down_stops_a_server_left_without_a_supervisor_and_records_it_stopped(stack, said, spawn):
    stray = spawn(f"listen={stack.settings.redis_port}", env=_ours(stack, "redis"))
    assert stack.down(("redis",)) == ["redis"]
    assert _gone(stray.pid)
    assert said == [f"stopping redis (pid {stray.pid}): running without this stack's supervisor"]
    entry = json.loads(stack.settings.services_file.read_text())["services"]["redis"]
    assert (entry["detail"], entry["running"], entry["port"]) == ("stopped", False, stack.settings.redis_port)
    assert entry["data_dir"] == str(stack.catalog["redis"].data_dir)
    assert entry["log_file"] == str(stack.catalog["redis"].program.log_file)


def test_a_stray_gets_its_services_own_stop_signal(stack):
    me = psutil.Process()
    assert stack._stop_signal(Member("postgres", me, "test")) == signal.SIGINT  # Postgres' fast shutdown
    assert stack._stop_signal(Member("redis", me, "test")) == signal.SIGTERM
    assert stack._stop_signal(Member("retired-service", me, "test")) == signal.SIGTERM  # named by no program


def test_postgres_is_given_longer_than_other_servers_to_stop_before_sigkill(stack):
    me = psutil.Process()
    assert stack._grace(Member("postgres", me, "test")) > stack._grace(Member("redis", me, "test"))


# --- the readiness wait's version gate -----------------------------------------------------
def _redis_answering(stack, version: str):
    # what the server answers is the fake here: the probe says which version answered
    return replace(stack.catalog["redis"], probe=Probe("redis", "redis://127.0.0.1", lambda settings: version))


def test_a_redis_7_is_ready_with_its_version(stack):
    state = stack._wait_ready(_redis_answering(stack, "7.0.15"))
    assert (state.healthy, state.version) == (True, "7.0.15")


def test_a_redis_older_than_7_is_refused_with_the_install_fix(stack):
    with pytest.raises(ServiceError) as caught:
        stack._wait_ready(_redis_answering(stack, "6.2.14"))
    assert caught.value.service == "redis" and "version 6.2.14 is too old" in caught.value.message
    assert caught.value.fix == "install redis-server 7 or newer"
