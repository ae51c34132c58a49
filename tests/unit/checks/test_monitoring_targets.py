"""monitoring.check's targets check, against a real HTTP server answering as Prometheus's
/api/v1/targets does: right after a start, "not yet" is waited for, never read as "all up"."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from devmatrix.checks.monitoring import targets
from devmatrix.config import Settings
from devmatrix.results import Status
from devmatrix.stack import registry

pytestmark = pytest.mark.unit


def _answer(jobs: dict[str, str]) -> dict:
    return {"status": "success", "data": {"activeTargets": [
        {"labels": {"job": job}, "health": health, "lastError": "" if health == "up" else "connection refused"}
        for job, health in jobs.items()]}}


@pytest.fixture
def prometheus(http_server) -> Callable[[list[dict]], Settings]:
    """serve(answers) → Settings whose Prometheus answers those bodies in turn (the last one again)."""
    def serve(answers: list[dict]) -> Settings:
        left = list(answers)
        return Settings(prometheus_port=http_server(
            lambda _path: (200, json.dumps(left.pop(0) if len(left) > 1 else left[0]).encode())))
    return serve


def _jobs(settings: Settings) -> list[str]:
    return sorted(job.job for job in registry.native_scrape_jobs(settings))


def test_targets_not_yet_discovered_are_waited_for_until_all_are_up(prometheus):
    jobs = _jobs(Settings())
    settings = prometheus([_answer({}), _answer({jobs[0]: "down"}), _answer(dict.fromkeys(jobs, "up"))])
    result = targets(settings, wait_s=10)
    assert result.status is Status.PASS, result.detail
    assert result.detail == f"all {len(jobs)} up: {', '.join(jobs)}"


def test_a_target_still_down_at_the_deadline_is_named_with_its_error(prometheus):
    jobs = _jobs(Settings())
    settings = prometheus([_answer({**dict.fromkeys(jobs, "up"), jobs[0]: "down"})])
    result = targets(settings, wait_s=1.5)
    assert result.status is Status.FAIL
    assert result.detail == f"not up: {jobs[0]} down connection refused"
    assert result.seconds >= 1.5  # it waited its whole wait before saying so


def test_an_unreadable_answer_fails_at_once_and_says_how_to_start_prometheus(closed_port):
    result = targets(Settings(prometheus_port=closed_port), wait_s=10)
    assert result.status is Status.FAIL
    assert "cannot read" in result.detail and "invoke monitoring.up" in result.detail
    assert result.seconds < 5  # an error is not "not yet": no waiting out the 10 s
