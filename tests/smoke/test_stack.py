"""Smoke: the running stack answers, quickly. Needs `invoke phase1` to have run."""

from __future__ import annotations

import json

import pytest

from devmatrix.config import env_file_path
from devmatrix.ops.checks import Status
from devmatrix.ops.services import get_provider
from devmatrix.ops.validate import exit_code, run_validation

pytestmark = pytest.mark.smoke


def test_services_record_lists_healthy_services(settings):
    record = json.loads(settings.services_file.read_text())
    assert record["services"], "services.json lists no service"
    unhealthy = {n: s["detail"] for n, s in record["services"].items() if not s["healthy"]}
    assert unhealthy == {}


def test_every_service_passes_its_readiness_check_now(settings):
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _: None)
    states = provider.status()
    assert [(s.name, s.detail) for s in states if not s.healthy] == []


def test_validation_passes_every_critical_check(settings):
    results = run_validation(settings)
    failed = [(r.name, r.detail) for r in results if r.critical and r.status is Status.FAIL]
    assert failed == []
    assert exit_code(results) == 0
