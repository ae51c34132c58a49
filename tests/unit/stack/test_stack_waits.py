"""The stack's waits go through devmatrix.retry.poll and keep their deadlines and messages: the
native provider's readiness wait, supervisord's start and a program's stop, a port's release, the
stack lock; plus the sandbox's wait for its namespace and the chaos drill's wait for its work.

What supervisord answers is not ours to test: where a test needs a state it cannot cause (FATAL,
a stop that hangs) it sets ``Supervisor.info``'s answer. Everything else is real: processes,
ports, HTTP servers, time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from devmatrix.chaos import drill
from devmatrix.config import Settings
from devmatrix.errors import ServiceError, ServiceNotReady
from devmatrix.evidence import sandbox
from devmatrix.stack import _reaper, _supervisor
from devmatrix.stack._supervisor import Supervisor
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit

SLACK_S = 3.0  # a loaded 2-core machine


def _stack(tmp_path: Path, **settings) -> NativeProvider:
    return NativeProvider(Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local", **settings),
                          env_file=tmp_path / ".env.test", echo=lambda _: None)


# --- the native provider's readiness wait ---------------------------------------------------
def test_a_service_whose_probe_passes_is_ready_with_its_version(tmp_path, http_server):
    port = http_server(lambda path: (200, json.dumps({"status": "ok"}).encode()) if path == "/health"
                       else (404, b""))
    stack = _stack(tmp_path, llm_port=port, service_start_timeout_s=10)
    start = time.monotonic()
    state = stack._wait_ready(stack.catalog["llm"])
    assert (state.healthy, state.version) == (True, "llama.cpp") and time.monotonic() - start < SLACK_S


def test_a_program_supervisord_gave_up_on_ends_the_wait_at_once(tmp_path, monkeypatch, closed_port):
    stack = _stack(tmp_path, llm_port=closed_port, service_start_timeout_s=60)
    monkeypatch.setattr(stack.supervisor, "info", lambda: {"llm": {"statename": "FATAL"}})
    start = time.monotonic()
    with pytest.raises(ServiceNotReady) as caught:
        stack._wait_ready(stack.catalog["llm"])
    assert time.monotonic() - start < SLACK_S  # not the 60 s of the start timeout
    assert "not ready within 60 s (supervisor state FATAL; last check: no answer yet)" in caught.value.message


# --- supervisord: its start, a program's stop ---------------------------------------------
def test_a_supervisord_that_does_not_start_is_said_at_its_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(_supervisor, "DAEMON_START_TIMEOUT_S", 0.5)
    supervisor = Supervisor(tmp_path / "state")
    supervisor.config_file.parent.mkdir(parents=True)
    supervisor.config_file.write_text("[supervisord]\nnot a config line\n")  # it exits at once
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        supervisor.start_daemon()
    assert 0.5 <= time.monotonic() - start < 0.5 + SLACK_S
    assert caught.value.service == "supervisord" and "did not start (exit " in caught.value.message


def test_a_program_stop_that_hangs_is_said_at_its_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(_supervisor, "PROGRAM_STOP_TIMEOUT_S", 0.5)
    supervisor = Supervisor(tmp_path / "state")
    asked: list[str] = []
    monkeypatch.setattr(supervisor, "request_stop", asked.append)
    monkeypatch.setattr(supervisor, "info", lambda: {"chroma": {"statename": "STOPPING"}})
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        supervisor._stop_and_wait("chroma")
    assert asked == ["chroma"] and 0.5 <= time.monotonic() - start < 0.5 + SLACK_S
    assert "supervisord did not stop it within 0.5 s (state STOPPING)" in caught.value.message


def test_a_program_that_stops_ends_the_wait(tmp_path, monkeypatch):
    supervisor = Supervisor(tmp_path / "state")
    states = iter(["STOPPING", "STOPPING", "STOPPED"])
    monkeypatch.setattr(supervisor, "request_stop", lambda name: None)
    monkeypatch.setattr(supervisor, "info", lambda: {"chroma": {"statename": next(states, "STOPPED")}})
    supervisor._stop_and_wait("chroma")


# --- a stopped server's port --------------------------------------------------------------
def test_a_port_still_held_after_its_deadline_names_the_holder(spawn, monkeypatch):
    monkeypatch.setattr(_reaper, "PORT_RELEASE_TIMEOUT_S", 0.5)
    port = free_port()
    holder = spawn(f"listen={port}")
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        _reaper.wait_ports_free([("chroma", port)], ours=lambda pid: True)
    assert 0.5 <= time.monotonic() - start < 0.5 + SLACK_S
    assert f"port {port} is still held by" in caught.value.message and f"kill {holder.pid}" in caught.value.fix


def test_ports_freed_or_held_by_others_end_the_wait_at_once(spawn):
    port, foreign = free_port(), free_port()
    spawn(f"listen={foreign}")
    start = time.monotonic()
    _reaper.wait_ports_free([("redis", port), ("chroma", foreign)], ours=lambda pid: False)
    assert time.monotonic() - start < SLACK_S


# --- the sandbox's wait for its namespace's init ------------------------------------------
def test_the_namespace_wait_ends_when_its_init_has_exited(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    start = time.monotonic()
    sandbox._wait_for_namespace(child.pid)  # a zombie (not reaped yet) counts as gone
    assert time.monotonic() - start < SLACK_S
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    child.wait()


def test_the_namespace_wait_gives_up_at_its_deadline_without_raising(monkeypatch):
    monkeypatch.setattr(sandbox, "SANDBOX_KILL_WAIT_S", 0.3)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = time.monotonic()
        sandbox._wait_for_namespace(child.pid)  # _sweep, after it, deals with what still runs
        assert 0.3 <= time.monotonic() - start < 0.3 + SLACK_S
    finally:
        child.kill()
        child.wait()


# --- the chaos drill's wait for its work ------------------------------------------------
class _Work:
    """A work that is under way ``after_s`` seconds from now (None: never); time is what is faked."""

    def __init__(self, after_s: float | None) -> None:
        self.at = None if after_s is None else time.monotonic() + after_s

    def under_way(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def done(self) -> bool:
        return False


def test_the_drill_injects_as_soon_as_its_work_is_under_way():
    start = time.monotonic()
    assert drill.wait_under_way(_Work(0.3), timeout_s=30) is True
    assert 0.3 <= time.monotonic() - start < 0.3 + SLACK_S


def test_the_drill_injects_anyway_when_its_work_is_not_under_way_in_time():
    start = time.monotonic()
    assert drill.wait_under_way(_Work(None), timeout_s=0.5) is False
    assert 0.5 <= time.monotonic() - start < 0.5 + SLACK_S
