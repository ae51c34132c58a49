"""The external provider: servers someone else runs; DevMatrix only checks them.

Except the services the registry marks ``joins`` (the workers): those this machine runs
itself, natively under its own supervisord and state dir, against the external stores. That
is how a second machine adds capacity to the first one (README "Scaling out"): its settings
point POSTGRES/REDIS/CHROMADB/LLM/API hosts and ports at machine A, and `invoke infra.up`
checks A's servers, then starts WORKER_COUNT workers here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.errors import ServiceError, UsageError
from devmatrix.stack import registry
from devmatrix.stack.base import ServiceState, record
from devmatrix.stack.native import NativeProvider


class ExternalProvider:
    name: str

    def __init__(self, settings: Settings, *, runs: registry.ProviderName = "external",
                 env_file: Path | None = None, echo: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.name = runs  # the provider services.json names
        # which registry entries these servers are (compose reuses this checker for its own)
        self.specs = {spec.name: spec for spec in registry.SERVICES if spec.runs_on(runs)}
        self.core = registry.core(settings, runs)
        # what this machine runs itself (the external provider proper only, not compose's checker)
        self.joined = registry.joined(settings) if runs == "external" and env_file is not None else ()
        self.local = (NativeProvider(settings, env_file=env_file, echo=echo, only=self.joined, record_as=runs)
                      if self.joined and env_file is not None else None)

    def services(self) -> tuple[str, ...]:
        return self.core

    def _split(self, names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the servers to check, the services this machine runs) among ``names`` (empty: the core)."""
        selected = names or self.core
        unknown = [n for n in selected if n not in self.specs]
        if unknown:
            raise UsageError(f"{', '.join(unknown)}: no such service", fix=f"choose from: {', '.join(self.specs)}")
        return (tuple(n for n in selected if n not in self.joined), tuple(n for n in selected if n in self.joined))

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        remote, local = self._split(names)
        states = self._check(remote)
        return states + (self.local.status(local) if local and self.local else [])

    def _check(self, names: tuple[str, ...]) -> list[ServiceState]:
        if not names:
            return []
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return list(pool.map(self._probe, names))

    def _probe(self, name: str) -> ServiceState:
        spec = self.specs[name]
        state = ServiceState(name=name, url=spec.url(self.settings), port=spec.port(self.settings), running=True)
        try:
            state.version, state.healthy = spec.probe(self.settings), True
        except ServiceError as error:
            state.detail = error.message
        return state

    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        """Check each external server and fail naming the ones that do not answer; then start the
        services this machine runs (the workers need the broker and the stores: checked first)."""
        remote, local = self._split(names)
        states = self._check(remote)
        record(self.settings.services_file, self.name, states)  # smoke reads it under every provider
        down = [s for s in states if not s.healthy]
        if down:
            raise ServiceError(
                ", ".join(s.name for s in down),
                "external server(s) not answering: " + "; ".join(f"{s.url}: {s.detail}" for s in down),
                fix="start them where they run, or fix the *_HOST/*_PORT settings",
            )
        return states + (self.local.up(local) if local and self.local else [])

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        """Stop what this machine runs (no names: all of it, and its supervisor); an external
        server is not ours to stop."""
        if self.local is None:
            return []
        _, local = self._split(names) if names else ((), ())
        return self.local.down(local) if local or not names else []

    def record_stopped(self, names: tuple[str, ...]) -> None:
        """What compose stopped, in services.json (an external server stays as it is)."""
        record(self.settings.services_file, self.name, [
            ServiceState(name=n, url=self.specs[n].url(self.settings), port=self.specs[n].port(self.settings),
                         detail="stopped") for n in names if n in self.specs])

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        remote, local = self._split(names)
        if local and self.local:
            self.local.down(local)
        return self.up(remote + local)

    def logs(self, name: str, lines: int = 50) -> str:
        if self.local and name in self.joined:
            return self.local.logs(name, lines)
        return f"{name} is external: read its logs where it runs"
