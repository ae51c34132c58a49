"""What `invoke chaos` calls a kept promise, and that it only ever touches this stack's processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devmatrix import chaos
from devmatrix.chaos import faults
from devmatrix.errors import DevMatrixError

pytestmark = pytest.mark.unit


def _row(**changes) -> chaos.ChaosRow:
    base = dict(service="redis", fault="freeze", during="workflow", outcome="error", code=3,
                message="workflow wf-1 interrupted: redis: no answer — fix: `invoke infra.restart -s redis`",
                detect_s=4.0, healthy_s=4.1, healed_by="resumed (SIGCONT)", seconds=8.0, deadline_s=375.0,
                rows_before=5, rows_after=6, rows_lost=0, records_before=36, records_after=36, records_lost=0,
                resumed=True)
    return chaos.ChaosRow(**{**base, **changes})


def test_a_clear_error_that_heals_and_loses_nothing_keeps_every_promise():
    assert chaos.broken_promises(_row()) == []


@pytest.mark.parametrize(("changes", "broken"), [
    ({"rows_lost": 1}, "lost 1 committed rows"),
    ({"records_lost": 2}, "and 2 records"),
    ({"healthy_s": None}, "did not recover"),
    ({"seconds": 400.0}, "over its 375 s deadline"),
    ({"message": "generation failed: timeout"}, "does not name redis and the fix"),
    ({"resumed": False}, "did not resume"),
    ({"during": "validate", "outcome": "ok", "message": "ready"}, "validate passed with redis freezed"),
])
def test_each_broken_promise_is_named(changes, broken):
    assert any(broken in b for b in chaos.broken_promises(_row(**changes)))


class _FakeSupervisor:
    """This stack's supervisor, as faults sees it: program name → pid."""

    def __init__(self, pids: dict[str, int], state_dir) -> None:
        self.pids, self.state_dir = pids, state_dir
        self.config_file = state_dir / "supervisor" / "supervisord.conf"

    def info(self) -> dict[str, dict]:
        return {name: {"pid": pid} for name, pid in self.pids.items()}


def test_a_service_is_its_supervised_process_and_its_children(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time;"
                               " subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']);"
                               " time.sleep(30)"])
    try:
        for _ in range(50):
            pids = faults.service_pids(_FakeSupervisor({"redis": parent.pid}, tmp_path), "redis")  # type: ignore[arg-type]
            if len(pids) == 2:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert pids[0] == parent.pid and len(pids) == 2
        assert faults.service_pids(_FakeSupervisor({}, tmp_path), "redis") == []  # type: ignore[arg-type]
    finally:
        for pid in pids:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.wait(5)


def test_nothing_running_is_a_clear_refusal_never_a_guess_by_name(tmp_path):
    with pytest.raises(DevMatrixError, match="chroma has no running process in this stack"):
        faults.inject(_FakeSupervisor({}, tmp_path), "chroma", "kill")  # type: ignore[arg-type]


def test_choices_are_listed(tmp_path):
    with pytest.raises(DevMatrixError, match="choose from: kill, freeze"):
        faults.inject(_FakeSupervisor({}, tmp_path), "chroma", "melt")  # type: ignore[arg-type]
