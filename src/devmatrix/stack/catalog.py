"""The native provider's services: the registry's entries it runs, with their programs.

Which services exist and how they are probed is the registry's; how each program is
run is `_programs.py`'s. This module joins the two for one set of settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.stack import registry
from devmatrix.stack._programs import NativeContext, chroma_server_command, postgres_bin_dir
from devmatrix.stack._supervisor import Program
from devmatrix.stack.base import Probe

__all__ = ["NativeService", "chroma_server_command", "native_services", "postgres_bin_dir"]


@dataclass(frozen=True)
class NativeService:
    name: str
    port: int
    port_setting: str
    program: Program
    probe: Probe
    data_dir: Path
    group: registry.Group = "core"
    prepare: Callable[[], object] | None = None
    system_programs: dict[str, str] = field(default_factory=dict)  # program -> Debian package


def native_services(settings: Settings, *, env_file: Path, user: str | None,
                    only: tuple[str, ...] | None = None) -> dict[str, NativeService]:
    """Every service the native provider can run, for these settings (the local LLM only when used);
    with ``only``, just those (the workers a machine runs against another machine's stores).
    Each is probed for this stack's own processes (`ServiceSpec.local_probe`)."""
    ctx = NativeContext(settings=settings, state=settings.devmatrix_state_dir.resolve(), project=Path.cwd(),
                        env_file=env_file, user=user, scrape_jobs=registry.native_scrape_jobs(settings))
    services = {}
    for spec in registry.SERVICES:
        if spec.native is None or not spec.wanted(settings) or (only is not None and spec.name not in only):
            continue
        built = spec.native(ctx)
        services[spec.name] = NativeService(
            spec.name, spec.port(settings), (spec.port_setting or "").upper(), built.program,
            Probe(spec.name, spec.url(settings), spec.local_probe()), ctx.data / spec.name,
            group=spec.group, prepare=built.prepare, system_programs=built.system_programs,
        )
    return services
