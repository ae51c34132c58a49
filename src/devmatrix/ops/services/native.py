"""The native provider: real servers from system and PyPI packages, under supervisord.

Every server binds to the configured loopback address, keeps its data and log
under `.devmatrix/`, and must pass a readiness check that can fail before
`up` returns. Services start in parallel; Postgres never runs as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from devmatrix.config import Settings
from devmatrix.errors import InstallError, PortInUse, ServiceError, ServiceNotReady
from devmatrix.ops.services import system
from devmatrix.ops.services._secrets import make_state_private
from devmatrix.ops.services._supervisor import Supervisor
from devmatrix.ops.services.base import ServiceState, StackRecord
from devmatrix.ops.services.catalog import (
    POSTGRES_SYSTEM_USER,
    SYSTEM_PROGRAMS,
    NativeService,
    native_services,
    postgres_bin_dir,
)

READY_POLL_S = 0.1
LOG_TAIL_LINES = 20
MIN_REDIS_MAJOR = 7
# STARTING: spawned, inside supervisor's startsecs window; alive all the same.
ALIVE = {"RUNNING", "STARTING"}


class NativeProvider:
    name = "native"

    def __init__(self, settings: Settings, *, env_file: Path, echo: Callable[[str], None] = print):
        self.settings = settings
        self.echo = echo
        self.pg_user = POSTGRES_SYSTEM_USER if system.is_root() else None
        self.catalog = native_services(settings, env_file=env_file, user=self.pg_user)
        self.supervisor = Supervisor(settings.devmatrix_state_dir)

    def services(self) -> tuple[str, ...]:
        """The services a bare `up`/`status` means: the core group."""
        return tuple(name for name, s in self.catalog.items() if s.group == "core")

    def _select(self, names: tuple[str, ...]) -> list[NativeService]:
        unknown = [n for n in names if n not in self.catalog]
        if unknown:
            raise ServiceError(
                ", ".join(unknown), "no such service",
                fix=f"choose from: {', '.join(self.catalog)}",
            )
        return [self.catalog[n] for n in (names or self.services())]

    # --- lifecycle ---------------------------------------------------------
    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        selected = self._select(names)
        make_state_private(self.settings.devmatrix_state_dir.resolve(), traverse_group=self.pg_user)
        for service in selected:
            system.ensure_programs(SYSTEM_PROGRAMS.get(service.name, {}), echo=self.echo)
            service.data_dir.mkdir(parents=True, exist_ok=True)
            if service.prepare:
                service.prepare()
        if any(s.name == "postgres" for s in selected):
            self._prepare_postgres()
        self.supervisor.write_config(
            [s.program for s in self.catalog.values()], run_as_root=system.is_root()
        )
        self.supervisor.start_daemon()
        info = self.supervisor.info()
        to_start = [s for s in selected if info.get(s.name, {}).get("statename") not in ALIVE]
        for service in to_start:
            self._check_port_free(service)
        self.supervisor.sync([s.name for s in to_start])
        for service in to_start:
            self.echo(f"starting {service.name} on {service.probe.url} …")
            self.supervisor.start(service.name)
        states = self._parallel(self._wait_ready, selected)
        started = {s.name for s in to_start}
        for state in states:
            state.detail = "started" if state.name in started else "already running"
        self._record(states)
        return states

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        """Stop services; with no names stop all and the supervisor. Idempotent."""
        selected = self._select(names) if names else list(self.catalog.values())
        if not self.supervisor.running():
            return []
        info = self.supervisor.info()
        stopped = [s.name for s in selected if info.get(s.name, {}).get("statename") in ALIVE]
        if names:
            for name in stopped:
                self.supervisor.stop(name)
        else:
            self.supervisor.shutdown()
        self._record(self.status())
        return stopped

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        for service in self._select(names):
            self.supervisor.stop(service.name)
        return self.up(names)

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        return self._parallel(self._probe_once, self._select(names))

    def logs(self, name: str, lines: int = 50) -> str:
        (service,) = self._select((name,))
        return _tail(service.program.log_file, lines)

    # --- helpers -------------------------------------------------------------
    def _parallel(self, fn: Callable[[NativeService], ServiceState],
                  services: list[NativeService]) -> list[ServiceState]:
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return list(pool.map(fn, services))

    def _state(self, service: NativeService) -> ServiceState:
        proc = self.supervisor.info().get(service.name, {})
        running = proc.get("statename") in ALIVE
        return ServiceState(
            name=service.name, url=service.probe.url, port=service.port, running=running,
            pid=(proc.get("pid") or None) if running else None,
            started_at=_iso(proc.get("start")) if running else None,
            log_file=str(service.program.log_file), data_dir=str(service.data_dir),
        )

    def _probe_once(self, service: NativeService) -> ServiceState:
        state = self._state(service)
        try:
            state.version = service.probe.check(self.settings)
            state.healthy = True
        except ServiceError as error:
            state.detail = error.message
        if state.healthy and not state.running:
            state.detail = "answers, but not under this stack's supervisor"
        return state

    def _wait_ready(self, service: NativeService) -> ServiceState:
        deadline = time.monotonic() + self.settings.service_start_timeout_s
        last_error = "no answer yet"
        while True:
            proc = self.supervisor.info().get(service.name, {})
            # BACKOFF means supervisor is still retrying; FATAL means it gave up.
            if proc.get("statename") in {"FATAL", "EXITED", "STOPPED"}:
                break
            if time.monotonic() > deadline:
                break
            try:
                version = service.probe.check(self.settings)
            except ServiceError as error:
                last_error = error.message
                time.sleep(READY_POLL_S)
                continue
            if service.name == "redis" and int(version.split(".")[0]) < MIN_REDIS_MAJOR:
                raise ServiceError("redis", f"version {version} is too old (need >= 7)",
                                   fix="install redis-server 7 or newer")
            state = self._state(service)
            state.version, state.healthy = version, True
            return state
        raise ServiceNotReady(
            service.name,
            f"not ready within {self.settings.service_start_timeout_s:g} s"
            f" (supervisor state {proc.get('statename', 'unknown')}; last check: {last_error})",
            log_tail=_tail(service.program.log_file, LOG_TAIL_LINES),
            fix=f"read {service.program.log_file}; `invoke infra.restart -s {service.name}`",
        )

    def _check_port_free(self, service: NativeService) -> None:
        holder = system.port_holder(service.port)
        if holder is None:
            return
        pid, description = holder
        ours = self.supervisor.info().get(service.name, {}).get("pid")
        if ours and pid in system.process_tree_pids(ours):
            return
        raise PortInUse(service.name, service.port, description, setting=service.port_setting)

    def _prepare_postgres(self) -> None:
        """initdb once (as the unprivileged user), and clear a stale postmaster.pid."""
        data = self.catalog["postgres"].data_dir
        if self.pg_user:
            system.ensure_system_user(self.pg_user)
            for path, what in ((postgres_bin_dir() / "postgres", "the postgres binary"),
                               (data.parent, "the data directory")):
                if not system.user_can_reach(self.pg_user, path):
                    raise InstallError(
                        f"postgres runs as {self.pg_user!r}, which cannot reach {what} at {path}"
                        " (a parent directory is not searchable by other users, e.g. /root)",
                        fix="clone the project under a world-searchable directory such as /work"
                            " or /srv, or `chmod o+x` the parent directories",
                    )
            system.chown_tree(data, self.pg_user)
        data.chmod(0o700)
        stale = data / "postmaster.pid"
        if stale.exists() and not _pid_alive(stale):
            stale.unlink()
        if (data / "PG_VERSION").exists():
            return
        self.echo("initialising the PostgreSQL cluster (initdb) …")
        # initdb wants an empty data dir, so the password file lives beside it
        pwfile = data.parent / ".postgres-initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # 0600 from birth
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self.settings.postgres_password.get_secret_value() + "\n")
            if self.pg_user:
                system.chown_tree(pwfile, self.pg_user)
            result = subprocess.run(
                [str(postgres_bin_dir() / "initdb"), "-D", str(data), "-U", self.settings.postgres_user,
                 f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                 "--encoding=UTF8", "--locale=C"],
                user=self.pg_user, group=self.pg_user, capture_output=True, text=True, check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServiceError("postgres", f"initdb failed: {result.stderr.strip()[-800:]}",
                               fix=f"remove {data} and run `invoke infra.up -s postgres` again")

    def _record(self, states: list[ServiceState]) -> None:
        path = self.settings.services_file
        record = StackRecord(provider=self.name)
        record.services = {s.name: s for s in states}
        if path.exists():  # keep entries of services not touched this time
            old = json.loads(path.read_text()).get("services", {})
            for name, entry in old.items():
                record.services.setdefault(name, ServiceState(**entry))
        record.write(path)


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"(no log yet at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or f"(the log {path} is empty so far)"


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return False
    return psutil.pid_exists(pid)


def _iso(epoch: int | None) -> str | None:
    if not epoch:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
