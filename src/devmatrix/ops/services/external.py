"""The external provider: servers someone else runs; DevMatrix only checks them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, ServiceError
from devmatrix.ops.services import readiness
from devmatrix.ops.services.base import CORE_SERVICES, ServiceState


class ExternalProvider:
    name = "external"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings
        self.endpoints = {
            "postgres": (f"postgresql://{s.postgres_host}:{s.postgres_port}", s.postgres_port,
                         readiness.postgres),
            "redis": (f"redis://{s.redis_host}:{s.redis_port}", s.redis_port, readiness.redis_ping),
            "chroma": (s.chroma_url, s.chromadb_port, readiness.chroma),
        }
        if s.resolved_llm_backend == "local":
            self.endpoints["llm"] = (s.llm_base_url, s.llm_port, readiness.llm)
        self.core = tuple(self.endpoints)
        # the monitoring group: checked only when named (`invoke monitoring.up`)
        self.endpoints.update({
            "prometheus": (f"http://127.0.0.1:{s.prometheus_port}", s.prometheus_port, readiness.prometheus),
            "postgres-exporter": (f"http://127.0.0.1:{s.postgres_exporter_port}", s.postgres_exporter_port,
                                  readiness.postgres_exporter),
            "redis-exporter": (f"http://127.0.0.1:{s.redis_exporter_port}", s.redis_exporter_port,
                               readiness.redis_exporter),
            "grafana": (f"http://127.0.0.1:{s.grafana_port}", s.grafana_port, readiness.grafana),
        })

    def services(self) -> tuple[str, ...]:
        return self.core

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        selected = names or self.core
        with ThreadPoolExecutor(max_workers=len(selected)) as pool:
            return list(pool.map(self._probe, selected))

    def _probe(self, name: str) -> ServiceState:
        if name not in self.endpoints:
            raise DevMatrixError(f"{name}: no such service", fix=f"choose from {', '.join(self.endpoints)}")
        url, port, check = self.endpoints[name]
        state = ServiceState(name=name, url=url, port=port, running=True)
        try:
            state.version, state.healthy = check(self.settings), True
        except ServiceError as error:
            state.detail = error.message
        return state

    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        """Nothing to start: check each server and fail naming the ones that do not answer."""
        states = self.status(names)
        down = [s for s in states if not s.healthy]
        if down:
            raise ServiceError(
                ", ".join(s.name for s in down),
                "external server(s) not answering: " + "; ".join(f"{s.url}: {s.detail}" for s in down),
                fix="start them where they run, or fix the *_HOST/*_PORT settings",
            )
        return states

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        return []  # not ours to stop

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        return self.up(names)

    def logs(self, name: str, lines: int = 50) -> str:
        return f"{name} is external: read its logs where it runs"


__all__ = ["CORE_SERVICES", "ExternalProvider"]
