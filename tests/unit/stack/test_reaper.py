"""Stopping processes: wait until they are gone, escalate to SIGKILL past the grace time and say so."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from devmatrix.errors import ServiceError
from devmatrix.stack import _reaper
from devmatrix.stack._ownership import Member

pytestmark = pytest.mark.unit


def member(process, service: str = "chroma") -> Member:
    return Member(service, psutil.Process(process.pid), "test")


def test_a_process_that_obeys_its_stop_signal_is_waited_for_without_escalation(spawn):
    target = member(spawn())
    _reaper.send(target, signal.SIGTERM)
    said: list[str] = []
    assert _reaper.wait_gone([target], lambda m: 10, said.append) == []
    assert said == []
    assert not target.process.is_running() or target.process.status() == psutil.STATUS_ZOMBIE


def test_a_process_that_ignores_its_stop_signal_is_killed_with_its_group_and_named(spawn):
    target = member(spawn("ignore-term"))
    _reaper.send(target, signal.SIGTERM)
    said: list[str] = []
    start = time.monotonic()
    notes = _reaper.wait_gone([target], lambda m: 0.5, said.append)
    assert 0.5 <= time.monotonic() - start < 5
    assert notes == said == [f"chroma (pid {target.pid}) did not exit within 0.5 s of its stop signal:"
                             " sent SIGKILL to its process group"]


def test_a_frozen_process_still_acts_on_its_stop_signal(spawn):
    # SIGSTOP looks like a hung server. A server handles SIGTERM (a graceful shutdown), and a
    # stopped process runs no handler: the stop signal must be followed by SIGCONT
    process = spawn("handle-term")
    process.send_signal(signal.SIGSTOP)
    target = member(process)
    _reaper.send(target, signal.SIGTERM)
    assert _reaper.wait_gone([target], lambda m: 3, lambda _: None) == []


def test_heads_are_the_top_process_of_each_service(spawn):
    a, b = member(spawn()), member(spawn(), "redis")
    me = Member("supervisord", psutil.Process(), "test")  # the parent of a and b
    assert {m.pid for m in _reaper.heads([me, a, b])} == {me.pid, a.pid, b.pid}
    worker = Member("chroma", psutil.Process(), "test")  # a parent of the same service: a worker
    assert {m.pid for m in _reaper.heads([worker, a, b])} == {worker.pid, b.pid}


def test_each_member_gets_its_own_services_grace(spawn):
    # a slow server (Postgres's checkpoint) is given longer than a quick one before SIGKILL
    quick, slow = member(spawn("ignore-term"), "redis"), member(spawn("ignore-term"), "postgres")
    for target in (quick, slow):
        _reaper.send(target, signal.SIGTERM)
    grace = {"redis": 0.3, "postgres": 2.0}
    said: list[str] = []
    start = time.monotonic()
    _reaper.wait_gone([quick, slow], lambda m: grace[m.service], said.append)
    assert time.monotonic() - start >= 2.0  # postgres was given its own 2 s, not redis's 0.3
    assert said == [f"redis (pid {quick.pid}) did not exit within 0.3 s of its stop signal: sent SIGKILL to its"
                    " process group",
                    f"postgres (pid {slow.pid}) did not exit within 2 s of its stop signal: sent SIGKILL to its"
                    " process group"]


def test_a_process_that_outlives_sigkill_is_an_error_naming_it_and_how_to_see_why(spawn, monkeypatch):
    # a process stuck in the kernel (state D) outlives SIGKILL; we cannot cause one, so the SIGKILL
    # is what is faked here: it is sent nowhere
    monkeypatch.setattr(_reaper, "kill_group", lambda member: None)
    monkeypatch.setattr(_reaper, "KILL_WAIT_S", 0.5)
    target = member(spawn("ignore-term"))
    _reaper.send(target, signal.SIGTERM)
    said: list[str] = []
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        _reaper.wait_gone([target], lambda m: 0.3, said.append)
    assert 0.8 <= time.monotonic() - start < 5  # its grace, then KILL_WAIT_S after the SIGKILL
    assert caught.value.service == "chroma"
    assert caught.value.message.startswith(
        f"chroma: pid {target.pid} is still alive 0.5 s after SIGKILL (pid {target.pid} (")
    assert f"`ps -o pid,stat,wchan:32 -p {target.pid}`" in caught.value.fix
    assert len(said) == 1  # the escalation was said once
