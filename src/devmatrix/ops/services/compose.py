"""The compose provider: `infra/docker-compose.yml` under a Docker engine.

Readiness is not taken from Docker's word alone: after `up --wait` the same
probes as the native provider query each server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.ops.services.base import CORE_SERVICES, ServiceState
from devmatrix.ops.services.external import ExternalProvider

COMPOSE_FILE = Path("infra/docker-compose.yml")
# services under `profiles: [monitoring]`: compose ignores them unless the profile is named
MONITORING_PROFILE = {"prometheus", "grafana", "postgres-exporter", "redis-exporter"}
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


class ComposeProvider:
    name = "compose"

    def __init__(self, settings: Settings, *, env_file: Path) -> None:
        self.settings = settings
        self.env_file = env_file
        self.checker = ExternalProvider(settings)

    def services(self) -> tuple[str, ...]:
        return CORE_SERVICES

    def _compose(self, *args: str, timeout: float = UP_TIMEOUT_S) -> str:
        command = ["docker", "compose", "-f", str(COMPOSE_FILE)]
        if self.env_file.exists():
            command += ["--env-file", str(self.env_file)]
        if MONITORING_PROFILE & set(args):
            command += ["--profile", "monitoring"]
        result = subprocess.run([*command, *args], capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise ServiceError("compose", f"`docker compose {' '.join(args)}` failed:"
                               f" {result.stderr.strip()[-800:]}",
                               fix="`docker compose -f infra/docker-compose.yml logs`")
        return result.stdout

    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        self._compose("up", "-d", "--wait", *(names or CORE_SERVICES))
        return self.checker.up(names or CORE_SERVICES)

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        if names:
            self._compose("stop", *names)
        else:
            self._compose("down")
        return list(names or CORE_SERVICES)

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        self._compose("restart", *(names or CORE_SERVICES))
        return self.checker.up(names or CORE_SERVICES)

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        return self.checker.status(names or CORE_SERVICES)

    def logs(self, name: str, lines: int = 50) -> str:
        return self._compose("logs", "--no-color", "--tail", str(lines), name, timeout=30)
