"""Smoke: the running stack answers, quickly. Needs `invoke phase1` to have run."""

from __future__ import annotations

import json

import pytest

from devmatrix.checks.validate import exit_code, run_validation
from devmatrix.config import env_file_path
from devmatrix.results import Status
from devmatrix.stack import get_provider

pytestmark = pytest.mark.smoke


def test_services_record_matches_the_live_services(settings):
    """services.json (what `infra.up` and `infra.down` recorded) says of every service it names
    what the servers say now: healthy ones healthy, and services stopped on purpose (e.g. the
    monitoring group after `monitoring.down`) not healthy. It names every core service."""
    record = json.loads(settings.services_file.read_text())
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _: None)
    core = provider.services()
    assert set(core) <= set(record["services"]), f"services.json lacks {set(core) - set(record['services'])}"
    live = {s.name: s.healthy for s in provider.status(tuple(record["services"]))}
    recorded = {name: entry["healthy"] for name, entry in record["services"].items()}
    assert recorded == live, f"services.json is stale: recorded {recorded}, live {live}"


def test_every_service_passes_its_readiness_check_now(settings):
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _: None)
    states = provider.status()
    assert [(s.name, s.detail) for s in states if not s.healthy] == []


def test_validation_passes_every_critical_check(settings):
    results = run_validation(settings)
    failed = [(r.name, r.detail) for r in results if r.critical and r.status is Status.FAIL]
    assert failed == []
    assert exit_code(results) == 0
