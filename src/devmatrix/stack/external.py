"""The external provider: servers someone else runs; DevMatrix only checks them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from devmatrix.config import Settings
from devmatrix.errors import ServiceError, UsageError
from devmatrix.stack import registry
from devmatrix.stack.base import ServiceState, record


class ExternalProvider:
    name: str

    def __init__(self, settings: Settings, *, runs: registry.ProviderName = "external") -> None:
        self.settings = settings
        self.name = runs  # the provider services.json names
        # which registry entries these servers are (compose reuses this checker for its own)
        self.specs = {spec.name: spec for spec in registry.SERVICES if spec.runs_on(runs)}
        self.core = registry.core(settings, runs)

    def services(self) -> tuple[str, ...]:
        return self.core

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        selected = names or self.core
        with ThreadPoolExecutor(max_workers=len(selected)) as pool:
            return list(pool.map(self._probe, selected))

    def _probe(self, name: str) -> ServiceState:
        if name not in self.specs:
            raise UsageError(f"{name}: no such service", fix=f"choose from: {', '.join(self.specs)}")
        spec = self.specs[name]
        state = ServiceState(name=name, url=spec.url(self.settings), port=spec.port(self.settings), running=True)
        try:
            state.version, state.healthy = spec.probe(self.settings), True
        except ServiceError as error:
            state.detail = error.message
        return state

    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        """Nothing to start: check each server and fail naming the ones that do not answer."""
        states = self.status(names)
        record(self.settings.services_file, self.name, states)  # smoke reads it under every provider
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

    def record_stopped(self, names: tuple[str, ...]) -> None:
        """What compose stopped, in services.json (an external server stays as it is)."""
        record(self.settings.services_file, self.name, [
            ServiceState(name=n, url=self.specs[n].url(self.settings), port=self.specs[n].port(self.settings),
                         detail="stopped") for n in names if n in self.specs])

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        return self.up(names)

    def logs(self, name: str, lines: int = 50) -> str:
        return f"{name} is external: read its logs where it runs"
