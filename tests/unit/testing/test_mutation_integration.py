"""The integration pass (devmatrix.testing.mutation_integration): which mutants it runs, how pytest
is started for each (in mutants/, on the mutated copy, the mutant named), how a run becomes an
outcome, and the checks before the mutants. pytest itself is a stand-in program here (it records
how it was started and exits as told): the real one needs a stack, which the unit tier has not."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devmatrix.errors import DevMatrixError, UsageError
from devmatrix.testing import mutation_integration
from devmatrix.testing.mutation_integration import (
    INTEGRATION_TESTS,
    Pytest,
    failed_tests,
    integration_outcome,
    run_pass,
    to_run,
)
from devmatrix.testing.mutation_results import INTEGRATION_RESULTS, Outcome, UnitResult, load_integration

pytestmark = pytest.mark.unit

# exits as FAKE_EXITS says for the mutant named in MUTANT_UNDER_TEST ("clean" when none): a code,
# or "hang" (until SIGINT), or "stubborn" (ignores SIGINT); records each start in FAKE_RECORD
FAKE_PYTEST = """\
import json, os, signal, sys, time
mutant = os.environ.get("MUTANT_UNDER_TEST", "clean")
with open(os.environ["FAKE_RECORD"], "a") as record:
    record.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "mutant": mutant,
                             "pythonpath": os.environ.get("PYTHONPATH")}) + "\\n")
action = json.loads(os.environ["FAKE_EXITS"]).get(mutant, 0)
if action == "stubborn":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
if action in ("hang", "stubborn"):
    print("started", flush=True)
    time.sleep(60)
if action == 1:
    print("FAILED tests/integration/llm/test_a.py::test_one - assert 1 == 2")
    print("ERROR tests/integration/llm/test_b.py::test_two - RuntimeError")
sys.exit(action)
"""


@pytest.fixture
def mutants(tmp_path) -> Path:
    (tmp_path / "mutants" / "src").mkdir(parents=True)
    return tmp_path / "mutants"


def _pytest(tmp_path: Path, mutants: Path, exits: dict[str, object]) -> Pytest:
    program = tmp_path / "fake-python"
    program.write_text(f"#!{sys.executable}\n{FAKE_PYTEST}")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": "/usr/bin:/bin",
        "FAKE_RECORD": str(tmp_path / "record.jsonl"),
        "FAKE_EXITS": json.dumps(exits),
        "DEVMATRIX_ENV_FILE": "/side/settings.env",
        "MUTANT_UNDER_TEST": "left over",
        "PYTHONPATH": "/other",
    }
    return Pytest(str(program), mutants, env)


def _starts(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]


UNIT = {
    "devmatrix.llm.cache.x_key__mutmut_1": UnitResult("llm", Outcome.SURVIVED),
    "devmatrix.llm.ledger.x_shared__mutmut_2": UnitResult("llm", Outcome.NO_TESTS),
    "devmatrix.llm.ledger.x_shared__mutmut_3": UnitResult("llm", Outcome.SURVIVED),
    "devmatrix.llm.client.x_complete__mutmut_4": UnitResult("llm", Outcome.KILLED),
    "devmatrix.llm.client.x_complete__mutmut_5": UnitResult("llm", Outcome.TIMEOUT),
    "devmatrix.api.app.x_create__mutmut_1": UnitResult("api", Outcome.SURVIVED),
}


# --- what is run --------------------------------------------------------------------------------
def test_only_the_mutants_the_unit_tier_did_not_kill_are_run():
    assert to_run(UNIT, ["llm"]) == [
        "devmatrix.llm.cache.x_key__mutmut_1",
        "devmatrix.llm.ledger.x_shared__mutmut_2",
        "devmatrix.llm.ledger.x_shared__mutmut_3",
    ]
    assert to_run(
        UNIT,
        ["llm", "api"],
        only={
            "devmatrix.llm.ledger.x_shared__mutmut_2",
            "devmatrix.api.app.x_create__mutmut_1",
            "devmatrix.llm.client.x_complete__mutmut_4",
        },
    ) == ["devmatrix.api.app.x_create__mutmut_1", "devmatrix.llm.ledger.x_shared__mutmut_2"]


def test_a_package_without_declared_tests_is_refused_with_the_ones_that_have():
    with pytest.raises(UsageError, match="no integration tests are declared for rag") as raised:
        to_run(UNIT, ["llm", "rag"])
    assert "llm, backup" in raised.value.fix


def test_every_declared_test_path_exists():
    root = Path(__file__).parents[3]
    assert [t for tests in INTEGRATION_TESTS.values() for t in tests if not (root / t).exists()] == []


def test_the_pass_without_a_side_stack_is_refused_naming_the_variable_and_how_to_make_one():
    root = Path(__file__).parents[3]
    env = {k: v for k, v in os.environ.items() if k != "DEVMATRIX_ENV_FILE"}
    done = subprocess.run([sys.executable, str(root / "scripts" / "mutation_integration.py"), "--package", "llm"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == UsageError.exit_code, done.stderr
    assert "the integration pass needs a side stack, and DEVMATRIX_ENV_FILE is not set" in done.stderr
    assert "python -m devmatrix.setup.side_stack ROOT" in done.stderr and "Traceback" not in done.stderr


# --- how a run becomes an outcome ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, Outcome.SURVIVED),
        (1, Outcome.KILLED),
        (3, Outcome.KILLED),
        (None, Outcome.TIMEOUT),
        (2, Outcome.ERROR),
        (4, Outcome.ERROR),
    ],
)
def test_pytests_exit_code_is_the_mutants_outcome(code, outcome):
    assert integration_outcome(code) is outcome


def test_the_failed_tests_are_read_from_pytests_short_summary():
    output = (
        "..F\nFAILED tests/a.py::test_x[1-2] - AssertionError: no\nERROR tests/b.py::test_y\n"
        "FAILED tests/a.py::test_x[1-2] - again\n  FAILED inside a message\n1 failed"
    )
    assert failed_tests(output) == ("tests/a.py::test_x[1-2]", "tests/b.py::test_y")


# --- how pytest is started ----------------------------------------------------------------------
def test_pytest_runs_in_mutants_on_the_mutated_copy_with_the_mutant_named(tmp_path, mutants):
    pytest_ = _pytest(tmp_path, mutants, {})

    run = pytest_.run(("tests/integration/llm",), "devmatrix.llm.cache.x_key__mutmut_1", 30)
    pytest_.run(("tests/integration/llm",), None, 30)

    assert run.exit_code == 0
    mutated, clean = _starts(tmp_path)
    assert mutated["cwd"] == str(mutants.resolve())
    assert mutated["pythonpath"] == f"{(mutants / 'src').absolute()}:/other"
    assert mutated["mutant"] == "devmatrix.llm.cache.x_key__mutmut_1"
    assert clean["mutant"] == "clean"  # none active, even when the caller's environment names one
    assert mutated["argv"] == [
        "-m",
        "pytest",
        "-m",
        "integration and not real_api",
        "-x",
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests._fixtures.mutation_guard",
        "tests/integration/llm",
    ]


def test_a_run_past_its_deadline_is_interrupted_and_has_no_exit_code(tmp_path, mutants):
    started = time.monotonic()
    run = _pytest(tmp_path, mutants, {"m": "hang"}).run(("t",), "m", 1.0)

    assert run.exit_code is None
    assert "started" in run.output
    assert time.monotonic() - started < 10


def test_a_run_started_with_sigint_ignored_is_still_interrupted_at_the_deadline(tmp_path, mutants, monkeypatch):
    """A pass in the background (`nohup … &`) inherits SIGINT ignored; pytest must still get a
    KeyboardInterrupt at the deadline, to tear its fixtures down."""
    monkeypatch.setattr(mutation_integration, "TEARDOWN_GRACE_S", 5.0)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run = _pytest(tmp_path, mutants, {"m": "hang"}).run(("t",), "m", 1.0)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert run.exit_code is None
    assert "KeyboardInterrupt" in run.output


def test_a_run_that_ignores_the_interrupt_is_killed_after_the_grace(tmp_path, mutants, monkeypatch):
    monkeypatch.setattr(mutation_integration, "TEARDOWN_GRACE_S", 1.0)
    started = time.monotonic()
    run = _pytest(tmp_path, mutants, {"m": "stubborn"}).run(("t",), "m", 1.0)

    assert run.exit_code is None
    assert time.monotonic() - started < 10


# --- the pass -----------------------------------------------------------------------------------
def test_the_pass_records_each_mutants_outcome_after_checking_the_setup(tmp_path, mutants):
    names = to_run(UNIT, ["llm"])
    pytest_ = _pytest(tmp_path, mutants, {"fail": 1, names[0]: 1, names[1]: "hang", names[2]: 0})
    lines: list[str] = []

    results = run_pass(pytest_, names, UNIT, commit="abc1234", deadline_s=1.0, log=lines.append)

    assert [s["mutant"] for s in _starts(tmp_path)] == ["clean", "fail", *names]
    assert {n: r.outcome for n, r in results.items()} == {
        names[0]: Outcome.KILLED,
        names[1]: Outcome.TIMEOUT,
        names[2]: Outcome.SURVIVED,
    }
    assert results[names[0]].failed == (
        "tests/integration/llm/test_a.py::test_one",
        "tests/integration/llm/test_b.py::test_two",
    )
    assert results[names[0]].tests == INTEGRATION_TESTS["llm"] and results[names[0]].commit == "abc1234"
    assert load_integration(mutants / INTEGRATION_RESULTS) == results
    assert (mutants / "integration-logs" / f"{names[0]}.log").read_text().startswith("FAILED")
    assert f"[1/3] {names[0]}: killed" in "\n".join(lines)


def test_a_mutant_with_a_result_is_not_run_again_unless_asked(tmp_path, mutants):
    names = to_run(UNIT, ["llm"])
    run_pass(_pytest(tmp_path, mutants, {"fail": 1}), names[:1], UNIT, commit="a")
    pytest_ = _pytest(tmp_path, mutants, {"fail": 1, names[0]: 1})

    assert run_pass(pytest_, names[:1], UNIT, commit="b")[names[0]].outcome is Outcome.SURVIVED
    assert run_pass(pytest_, names[:1], UNIT, commit="b", again=True)[names[0]].outcome is Outcome.KILLED


def test_tests_that_fail_on_the_original_code_stop_the_pass_before_any_mutant(tmp_path, mutants):
    pytest_ = _pytest(tmp_path, mutants, {"clean": 1, "fail": 1})

    with pytest.raises(DevMatrixError, match="fail with no mutant active") as raised:
        run_pass(pytest_, to_run(UNIT, ["llm"]), UNIT, commit="a")
    assert "infra.status" in raised.value.fix
    assert [s["mutant"] for s in _starts(tmp_path)] == ["clean"]
    assert not (mutants / INTEGRATION_RESULTS).exists()


def test_tests_that_pass_when_every_mutated_function_raises_stop_the_pass(tmp_path, mutants):
    pytest_ = _pytest(tmp_path, mutants, {"fail": 0})

    with pytest.raises(DevMatrixError, match="do not run the mutated copy"):
        run_pass(pytest_, to_run(UNIT, ["llm"]), UNIT, commit="a")
    assert [s["mutant"] for s in _starts(tmp_path)] == ["clean", "fail"]


@pytest.mark.parametrize("code", [2, 4, 5])
def test_a_mutant_that_breaks_the_run_itself_is_recorded_as_an_error_not_a_kill(tmp_path, mutants, code):
    names = to_run(UNIT, ["llm"])
    lines: list[str] = []

    results = run_pass(
        _pytest(tmp_path, mutants, {"fail": 1, names[0]: code}), names, UNIT, commit="a", log=lines.append
    )

    assert results[names[0]].outcome is Outcome.ERROR and results[names[0]].exit_code == code
    assert f"(pytest exit {code}: not a kill; see" in lines[2]
    assert results[names[1]].outcome is Outcome.SURVIVED  # the pass goes on


def test_no_mutant_is_started_after_the_stop_time(tmp_path, mutants):
    lines: list[str] = []

    results = run_pass(
        _pytest(tmp_path, mutants, {"fail": 1}),
        to_run(UNIT, ["llm"]),
        UNIT,
        commit="a",
        stop_at=time.monotonic() - 1,
        log=lines.append,
    )

    assert results == {}
    assert lines == ["time is up: 3 mutant(s) not run"]
