"""The service registry: one list, and everything that names a service agrees with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devmatrix.api.routes.health import ready_checks
from devmatrix.checks import validate
from devmatrix.config import Settings
from devmatrix.stack import registry
from devmatrix.stack.catalog import native_services
from devmatrix.stack.compose import MONITORING_PROFILE, ComposeProvider
from devmatrix.stack.external import ExternalProvider
from devmatrix.tasks.infra import SERVICE_HELP

pytestmark = pytest.mark.unit
PROVIDERS = ("native", "compose", "external")


@pytest.mark.parametrize("backend", ["local", "anthropic"])
def test_native_compose_and_external_run_the_same_core_set(tmp_path, backend):
    settings = Settings(devmatrix_state_dir=tmp_path, llm_backend=backend,
                        anthropic_api_key="sk-ant-test" if backend == "anthropic" else None)  # pragma: allowlist secret
    native = tuple(name for name, s in native_services(settings, env_file=tmp_path / ".env.test", user=None).items()
                   if s.group == "core")
    compose = ComposeProvider(settings, env_file=tmp_path / ".env.test").services()
    external = ExternalProvider(settings).services()
    expected = ("postgres", "redis", "chroma", "api", "worker") if backend == "anthropic" else (
        "postgres", "redis", "chroma", "llm", "api", "worker")
    assert native == compose == external == expected


def test_every_spec_names_a_real_port_setting_documented_in_the_example_file():
    example = Path(".env.test.example").read_text()
    for spec in registry.SERVICES:
        if spec.port_setting is None:
            continue
        assert spec.port_setting in Settings.model_fields, spec.name
        assert f"\n{spec.port_setting.upper()}=" in example, spec.name


def test_each_spec_says_how_each_provider_that_runs_it_runs_it():
    for spec in registry.SERVICES:
        # a compose service listens on a port of its own, or has none at all (the workers)
        assert spec.runs_on("compose") == bool(spec.compose and (spec.compose_port or not spec.port_setting)), \
            spec.name
    assert [s.name for s in registry.SERVICES if not s.runs_on("native")] == ["grafana"]


def test_the_compose_file_holds_the_registrys_services_and_its_profile_the_monitoring_group():
    services = yaml.safe_load(Path("infra/docker-compose.yml").read_text())["services"]
    core = {registry.spec(n).compose for n in registry.names("core", "compose")}
    assert {name for name, s in services.items() if not s.get("profiles")} == core
    assert {name for name, s in services.items() if s.get("profiles") == ["monitoring"]} == MONITORING_PROFILE


def test_both_prometheus_configs_have_the_same_jobs_and_the_pushgateway_keeps_pushed_labels(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path, api_port=18000, pushgateway_port=19091)
    native = {job.job: job for job in registry.native_scrape_jobs(settings)}
    compose = {job.job: job for job in registry.compose_scrape_jobs()}
    assert list(native) == list(compose)
    assert native["devmatrix-api"].target == "127.0.0.1:18000" and compose["devmatrix-api"].target == "api:8000"
    assert native["pushgateway"].target == "127.0.0.1:19091" and native["pushgateway"].honor_labels
    assert [job for job, j in native.items() if j.honor_labels] == ["pushgateway"]


def test_the_infra_help_the_api_ready_checks_and_validate_name_the_core_services():
    settings = Settings()
    core = registry.names("core", "native")
    assert all(",".join(core) in text for text in SERVICE_HELP.values())
    assert list(ready_checks(settings)) == [n for n in core if n != "api"]
    for provider in PROVIDERS:
        assert list(validate.checks(provider))[:len(core)] == list(core)


def test_validate_checks_grafana_only_where_the_provider_runs_it():
    assert "grafana" in registry.monitoring("compose")
    assert "grafana" not in registry.monitoring("native") + registry.monitoring("external")
