"""validate's report: exit codes, N/M, JSON; the API is a critical check wherever the provider runs it."""

from __future__ import annotations

import threading
import time

import pytest

from devmatrix.checks import validate
from devmatrix.config import Settings
from devmatrix.results import CheckResult, Status

pytestmark = pytest.mark.unit


def test_a_settings_file_that_cannot_load_is_exit_2_and_nothing_is_checked(tmp_path):
    bad = tmp_path / ".env.test"
    bad.write_text("POSTGRES_PORT=abc\n")
    report = validate.validate(bad)
    assert report.exit_code == 2 and report.results == []
    assert "POSTGRES_PORT=abc" in report.verdict and report.to_dict()["ready"] is False


def test_n_of_m_counts_critical_checks_and_one_critical_failure_is_exit_1():
    report = validate.Report(Settings(), "native", [
        CheckResult("postgres", Status.PASS), CheckResult("api", Status.FAIL, "down"),
        CheckResult("grafana", Status.FAIL, "down", critical=False)])
    assert (report.passed, len(report.critical), report.exit_code) == (1, 2, 1)
    assert report.summary == "1/2 critical checks passed"
    assert report.verdict == "NOT READY: failed: api"
    payload = report.to_dict()
    assert (payload["passed"], payload["total"], payload["provider"]) == (1, 2, "native")


def test_a_non_critical_failure_leaves_the_stack_ready():
    report = validate.Report(Settings(), "native", [
        CheckResult("postgres", Status.PASS), CheckResult("grafana", Status.FAIL, critical=False)])
    assert report.exit_code == 0 and report.verdict == validate.READY_BANNER


@pytest.mark.parametrize("provider", ["native", "compose", "external"])
def test_an_api_that_does_not_answer_fails_a_critical_check(closed_port, provider):
    settings = Settings(api_port=closed_port)
    [result] = validate._run("api", validate.checks(provider)["api"], settings)
    assert result.status is Status.FAIL and result.critical
    assert f"127.0.0.1:{closed_port}/api/v1/health/live" in result.detail


def test_the_report_times_the_checks_apart_from_the_start_up(tmp_path, monkeypatch):
    """`checks_seconds` is what VALIDATE_DEADLINE_S bounds (the chaos tier asserts it): the checks'
    own wall time, measured around them, not the interpreter's start-up before them."""
    def slow_checks(settings, provider):
        time.sleep(0.3)
        return [CheckResult("postgres", Status.PASS)]

    monkeypatch.setattr(validate, "run_validation", slow_checks)
    env_file = tmp_path / ".env.test"
    env_file.write_text("DEVMATRIX_PROVIDER=native\n")
    payload = validate.validate(env_file).to_dict()
    assert 0.3 <= payload["checks_seconds"] < 5, payload


def test_a_check_still_waiting_at_the_deadline_fails_named_and_validate_does_not_wait_for_it(monkeypatch):
    # a hung service whose check retries (each call within its own deadline) must not hold
    # validate past its deadline: on a busy machine the llm check alone took 20 s
    release = threading.Event()

    def hung(settings):
        release.wait(30)
        return CheckResult("llm", Status.PASS)

    monkeypatch.setattr(validate, "checks", lambda provider: {
        "postgres": lambda s: CheckResult("postgres", Status.PASS), "llm": hung,
        "monitoring": lambda s: release.wait(30) and CheckResult("monitoring", Status.PASS, critical=False)})
    try:
        start = time.perf_counter()
        results = validate.run_validation(Settings(), "native", wait_s=0.5)
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    # the bound: the 0.5 s wait, plus the pool's hand-back, with slack for a busy machine
    assert elapsed < 5, elapsed
    by_name = {r.name: r for r in results}
    assert by_name["postgres"].status is Status.PASS
    assert by_name["llm"].failed and by_name["llm"].critical
    assert by_name["llm"].detail.startswith("llm: no result within 0.5 s") and "fix:" in by_name["llm"].detail
    assert by_name["monitoring"].failed and not by_name["monitoring"].critical
    assert validate.exit_code(results) == 1
