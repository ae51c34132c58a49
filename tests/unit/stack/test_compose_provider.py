"""The compose provider's commands and `auto`'s choice of provider.

Docker is not ours to test: a `docker` script first on PATH records its arguments and answers as
the test says (no engine, an engine that hangs, a failing `compose`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm.local_server import model_path
from devmatrix.stack import compose
from devmatrix.stack.compose import ComposeProvider, _environment, engine_answers
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.providers import get_provider

pytestmark = pytest.mark.unit

SLACK_S = 3.0  # a loaded 2-core machine

NO_ENGINE = "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1"
ENGINE = 'echo "27.3.1"'
HANGS = "exec sleep 20"
COMPOSE_FAILS = "echo 'Error response from daemon: pull access denied for devmatrix-api' >&2; exit 1"


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """docker(script): a `docker` first on PATH that runs ``script`` after recording its arguments;
    returns the file of its calls, one a line."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "docker-calls"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def install(script: str) -> Path:
        (bin_dir / "docker").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n{script}\n')
        (bin_dir / "docker").chmod(0o755)
        return calls
    return install


@pytest.fixture
def provider(tmp_path: Path) -> ComposeProvider:
    settings = Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local")
    return ComposeProvider(settings, env_file=tmp_path / ".env.test")


def test_up_waits_for_the_core_services_and_a_failure_says_what_compose_said_and_where_the_logs_are(
        docker, provider):
    calls = docker(COMPOSE_FAILS)
    with pytest.raises(ServiceError) as caught:
        provider.up()
    core = "postgres redis chroma llm api worker"
    assert calls.read_text() == f"compose -f infra/docker-compose.yml up -d --wait {core}\n"
    assert caught.value.service == "compose"
    assert caught.value.message == (f"compose: `docker compose up -d --wait {core}` failed:"
                                    " Error response from daemon: pull access denied for devmatrix-api")
    assert caught.value.fix == "`docker compose -f infra/docker-compose.yml logs`"


def test_a_monitoring_service_is_started_with_its_profile_and_the_env_file(docker, provider):
    calls = docker(COMPOSE_FAILS)
    provider.env_file.write_text("")
    with pytest.raises(ServiceError):
        provider.up(("prometheus",))
    assert calls.read_text() == (f"compose -f infra/docker-compose.yml --env-file {provider.env_file}"
                                 " --profile monitoring up -d --wait prometheus\n")


def test_restart_restarts_the_named_services(docker, provider):
    calls = docker(COMPOSE_FAILS)
    with pytest.raises(ServiceError, match=r"`docker compose restart redis chroma` failed"):
        provider.restart(("redis", "chroma"))
    assert calls.read_text() == "compose -f infra/docker-compose.yml restart redis chroma\n"


def test_compose_is_told_where_the_local_model_is_unless_the_shell_says_otherwise(monkeypatch):
    monkeypatch.delenv("LLM_MODEL_DIR", raising=False)
    assert _environment()["LLM_MODEL_DIR"] == str(model_path().parent)
    monkeypatch.setenv("LLM_MODEL_DIR", "/srv/models")
    assert _environment()["LLM_MODEL_DIR"] == "/srv/models"


# --- auto: compose when a Docker engine answers ----------------------------------------------
def test_an_engine_that_does_not_answer_in_time_counts_as_none(docker, monkeypatch):
    monkeypatch.setattr(compose, "ENGINE_PROBE_TIMEOUT_S", 0.5)
    docker(HANGS)
    start = time.monotonic()
    assert engine_answers() is False
    assert time.monotonic() - start < 0.5 + SLACK_S


@pytest.mark.parametrize(("script", "chosen", "reason"), [
    (NO_ENGINE, NativeProvider, "no Docker engine answers"),
    (ENGINE, ComposeProvider, "a Docker engine answers"),
], ids=["no-engine", "engine"])
def test_auto_says_which_provider_it_chose_and_why(docker, tmp_path, script, chosen, reason):
    docker(script)
    said: list[str] = []
    settings = Settings(devmatrix_state_dir=tmp_path / "state", devmatrix_provider="auto")
    assert isinstance(get_provider(settings, env_file=tmp_path / ".env.test", echo=said.append), chosen)
    assert said == [f"provider: {chosen.name} (auto: {reason})"]
