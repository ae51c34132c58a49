"""What chaos, backup, restore, cleanup, validate and /ready cover is the registry's, never a list of their own.

The last test registers a scratch service, as the Celery `worker` will be, and shows which files
adding one touches: its entry (stack/registry.py), its native program (stack/_programs.py), its
compose service (infra/docker-compose.yml) and, for a new kind of probe, readiness.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from devmatrix.api.routes.health import ready_checks
from devmatrix.backup import cleanup, manifest
from devmatrix.chaos import drill
from devmatrix.checks import validate
from devmatrix.config import Settings
from devmatrix.stack import _programs, registry
from devmatrix.stack.catalog import native_services
from devmatrix.stack.compose import ComposeProvider
from devmatrix.stack.external import ExternalProvider

pytestmark = pytest.mark.unit
CORE = ("postgres", "redis", "chroma", "llm", "api")


def test_every_core_service_is_killed_and_frozen_by_the_chaos_matrix():
    drilled = {(service, fault) for service, fault, _ in drill.MATRIX}
    missing = [(name, fault) for name in registry.names("core", "native") for fault in ("kill", "freeze")
               if (name, fault) not in drilled]
    assert missing == [], "give each core service a Drill for both faults in stack/registry.py"
    assert set(CORE) <= set(drill.SERVICES)


def test_every_drill_runs_during_a_workload_chaos_has():
    assert {during for _, _, during in drill.MATRIX} <= set(drill.INJECT_AFTER_S)


def test_every_store_is_backed_up_restored_and_cleaned():
    stores = set(registry.stores())
    assert stores == {"postgres", "redis", "chroma"}
    assert stores <= set(manifest.REQUIRED_KEYS)
    assert set(manifest.STORE_FILES) == stores, "manifest.STORE_FILES: the files each store's section names"
    assert set(cleanup.SERVERS) == stores and set(cleanup._LIST) == stores
    assert stores <= set(cleanup._REMOVE) and stores <= set(cleanup.SCOPES)


def test_a_store_that_is_frozen_makes_validate_name_it():
    assert {service for service, _, _ in drill.VALIDATE_MATRIX} == set(registry.with_deadline())
    assert set(registry.with_deadline()) == drill.FROZEN_UNTIL_THE_WORK_ENDS


def test_validate_goes_deeper_exactly_where_the_registry_says():
    assert set(validate.DEEP) == set(validate.DEEP_CHECKS) == set(registry.deep_checked())


def test_ready_checks_every_core_service_but_the_api_itself():
    settings = Settings()
    assert tuple(ready_checks(settings)) == ("postgres", "redis", "chroma", "llm", "worker")


# --- a scratch service: adding one is an entry, a program and a compose service ------------
def _scratch_probe(settings: Settings) -> str:
    return "scratch 1.0"


def _scratch_program(ctx: _programs.NativeContext) -> _programs.NativeProgram:
    return _programs.api(ctx)  # any program will do: the test never starts it


SCRATCH = registry.ServiceSpec(
    "scratch", "core", None, lambda s: "http://127.0.0.1:1", _scratch_probe, native=_scratch_program,
    compose="scratch", compose_port=1, deep_check=None,
    drills=(registry.Drill("kill", "workflow"), registry.Drill("freeze", "workflow")),
)


@pytest.fixture
def scratch(monkeypatch) -> registry.ServiceSpec:
    monkeypatch.setattr(registry, "SERVICES", (*registry.SERVICES, SCRATCH))
    monkeypatch.setattr(registry, "BY_NAME", {**registry.BY_NAME, "scratch": SCRATCH})
    return SCRATCH


def test_a_scratch_service_reaches_every_view_from_its_entry_alone(scratch, tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path)
    env_file = tmp_path / ".env.test"
    assert "scratch" in registry.core(settings, "native")
    assert "scratch" in native_services(settings, env_file=env_file, user=None)
    assert "scratch" in ComposeProvider(settings, env_file=env_file).services()
    assert "scratch" in ExternalProvider(settings).services()
    assert ready_checks(settings)["scratch"]() == "scratch 1.0"
    assert "scratch" in validate.checks("native")
    assert {("scratch", "kill", "workflow"), ("scratch", "freeze", "workflow")} <= set(registry.drills())
    assert "scratch" not in registry.stores()  # not a store: backup and cleanup are not asked to change


def test_a_scratch_store_is_one_that_backup_and_cleanup_must_learn(scratch, monkeypatch):
    store = replace(SCRATCH, store=registry.Store("a dump", "rows of test runs"))
    monkeypatch.setattr(registry, "SERVICES", (*registry.SERVICES[:-1], store))
    assert "scratch" in registry.stores()
    # the views computed at import are the registry's at that time: what the coverage test compares
    assert set(registry.stores()) - set(manifest.STORE_FILES) == {"scratch"}
    assert set(registry.stores()) - set(cleanup._LIST) == {"scratch"}
