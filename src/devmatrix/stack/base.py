"""The service contract every provider implements, and the record it writes.

A service has a name, a version, a bind address and port, a readiness check
that can fail, a log file and a data directory. `infra.up` records what it
started in `.devmatrix/services.json`; everything else reads endpoints from
Settings, never from guesses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from devmatrix.config import Settings


@dataclass(frozen=True)
class Probe:
    """A readiness check: returns the server's version, or raises ServiceError."""

    name: str
    url: str
    check: Callable[[Settings], str]


@dataclass
class ServiceState:
    """What a provider knows about one service right now."""

    name: str
    url: str
    port: int
    running: bool = False
    healthy: bool = False
    pid: int | None = None
    version: str = ""
    started_at: str | None = None
    detail: str = ""
    log_file: str = ""
    data_dir: str = ""
    # a service of several processes (the workers): one entry each, e.g. {"name", "node", "pid", "state"}
    processes: list[dict] = field(default_factory=list)


@dataclass
class StackRecord:
    """The content of `.devmatrix/services.json`."""

    provider: str
    services: dict[str, ServiceState] = field(default_factory=dict)
    updated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {
            "provider": self.provider,
            "updated_at": self.updated_at,
            "services": {name: asdict(state) for name, state in self.services.items()},
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o600)  # like everything in the state dir: this user's only
        tmp.replace(path)  # atomic: a reader never sees half a file


def record(path: Path, provider: str, states: list[ServiceState]) -> None:
    """Write ``states`` into services.json, keeping the entries of services not touched this
    time; a record written by another provider is replaced, not mixed in."""
    record = StackRecord(provider=provider, services={s.name: s for s in states})
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("provider") == provider:
            for name, entry in old.get("services", {}).items():
                record.services.setdefault(name, ServiceState(**entry))
    record.write(path)


class Provider(Protocol):
    """Lifecycle of the stack's services; `names` empty means every service."""

    name: str

    def services(self) -> tuple[str, ...]: ...
    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]: ...
    def down(self, names: tuple[str, ...] = ()) -> list[str]: ...
    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]: ...
    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]: ...
    def logs(self, name: str, lines: int = 50) -> str: ...


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
