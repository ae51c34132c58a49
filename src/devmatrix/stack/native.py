"""The native provider: real servers from system and PyPI packages, under supervisord.

Every server binds to the configured loopback address, keeps its data and log
under `.devmatrix/`, and must pass a readiness check that can fail before
`up` returns. Services start in parallel; Postgres never runs as root.

The servers are this stack's when its state dir says so (`_ownership.py`), never by
their name. A supervisord that died or froze leaves its servers running unsupervised:
`up` stops them and starts them again under a new supervisord, `down` stops them too.
`down` returns only once every process has exited and its port is free (`_reaper.py`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from devmatrix.config import Settings
from devmatrix.errors import InstallError, PortInUse, ServiceError, ServiceNotReady, UsageError
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack import _reaper, backup_scheduler, system
from devmatrix.stack._constants import SUPERVISORD_STOP_GRACE_S
from devmatrix.stack._ownership import SUPERVISORD, Member, StackIdentity, stale_postmaster_pid
from devmatrix.stack._secrets import make_state_private
from devmatrix.stack._supervisor import Program, Supervisor
from devmatrix.stack.base import ServiceState, record
from devmatrix.stack.catalog import NativeService, native_services, postgres_bin_dir

READY_POLL_S = 0.1


class _GaveUp(Exception):
    """supervisord stopped trying to run a program (FATAL, EXITED, STOPPED): its readiness wait ends."""
LOG_TAIL_LINES = 20
MIN_REDIS_MAJOR = 7
# STARTING: spawned, inside supervisor's startsecs window; alive all the same.
ALIVE = {"RUNNING", "STARTING"}
UNSUPERVISED = ("running without this stack's supervisor (it died?);"
                " `invoke infra.up` restarts it under a new one")
# The stop grace of a process that says it is ours but names no service we know.
DEFAULT_STOP_GRACE_S = Program.stop_wait_s


class NativeProvider:
    name = "native"

    def __init__(self, settings: Settings, *, env_file: Path, echo: Callable[[str], None] = print,
                 only: tuple[str, ...] | None = None, record_as: str | None = None):
        """``only``: run just these services (the external provider's joined ones, the workers);
        ``record_as``: the provider services.json names (the one that owns this native part)."""
        self.settings = settings
        self.echo = echo
        self.name = record_as or NativeProvider.name
        self.pg_user = settings.postgres_system_user if system.is_root() else None
        self.catalog = native_services(settings, env_file=env_file, user=self.pg_user, only=only)
        if "postgres" not in self.catalog:
            self.pg_user = None  # its account exists for Postgres alone
        self.supervisor = Supervisor(settings.devmatrix_state_dir)
        self.identity = StackIdentity.of(
            state_dir=settings.devmatrix_state_dir, socket=self.supervisor.socket,
            config_file=self.supervisor.config_file,
            programs=[(s.name, s.program.command, s.program.directory) for s in self.catalog.values()],
        )

    def services(self) -> tuple[str, ...]:
        """The services a bare `up`/`status` means: the core group, and the backup scheduler while
        a schedule is set (`invoke backup.schedule`), so `infra.down` then `infra.up` keeps backing up."""
        core = tuple(name for name, s in self.catalog.items() if s.group == "core")
        return core + ((backup_scheduler.SERVICE,) if backup_scheduler.read_schedule(self.settings) else ())

    def _select(self, names: tuple[str, ...]) -> list[NativeService]:
        unknown = [n for n in names if n not in self.catalog]
        if unknown:
            # a wrong name is bad usage (exit 2), not a service outage (exit 3)
            raise UsageError(f"{', '.join(unknown)}: no such service",
                                 fix=f"choose from: {', '.join(self.catalog)}")
        return [self.catalog[n] for n in (names or self.services())]

    # --- lifecycle ---------------------------------------------------------
    def up(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        selected = self._select(names)
        if self.pg_user:
            # first: the state dir is made traversable by this account's group just below, and a
            # fresh machine has neither (issue 22: KeyError getgrnam on every first run)
            system.ensure_system_user(self.pg_user)
        make_state_private(self.settings.devmatrix_state_dir.resolve(), traverse_group=self.pg_user)
        self._stop_strays({s.name for s in selected})
        for service in selected:
            system.ensure_programs(service.system_programs, echo=self.echo)
            service.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if service.prepare:
                service.prepare()
        needs_initdb = any(s.name == "postgres" for s in selected) and self._prepare_postgres()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="initdb") as background:
            # a new cluster's initdb (1-1.5 s of one core) runs while the other servers start, none
            # of which needs it: it sat on a first phase1's critical path before anything started
            initdb = background.submit(self._initdb if needs_initdb else lambda: None)
            self.supervisor.write_config(
                [s.program for s in self.catalog.values()], run_as_root=system.is_root()
            )
            self.supervisor.start_daemon()
            info = self.supervisor.info()
            to_start = [s for s in selected if info.get(s.name, {}).get("statename") not in ALIVE]
            for service in to_start:
                self._check_port_free(service, info)
            self.supervisor.sync([s.name for s in to_start])
            for service in sorted(to_start, key=lambda s: s.name == "postgres"):  # postgres after its initdb
                if service.name == "postgres":
                    initdb.result()  # its error, if any, ends the up here
                self.echo(f"starting {service.name} on {service.probe.url} …")
                self.supervisor.start(service.name)
            initdb.result()
        states = self._parallel(self._wait_ready, selected)
        started = {s.name for s in to_start}
        for state in states:
            state.detail = "started" if state.name in started else "already running"
        self._record(states)
        return states

    def down(self, names: tuple[str, ...] = ()) -> list[str]:
        """Stop services; with no names stop all and the supervisor. Idempotent.

        Returns once every process stopped has exited and its port is free; one that
        outlives its grace time is killed with its process group, and `echo` says so.
        Processes of this stack that no supervisor manages (it died) are stopped too.
        """
        selected = self._select(names) if names else list(self.catalog.values())
        wanted = {s.name for s in selected}
        info, live = self._supervisor_view()
        supervised = [s.name for s in selected if info.get(s.name, {}).get("statename") in ALIVE]
        everything = self.identity.members()
        members = [m for m in everything if m.service in wanted]
        # with no names, a supervisord that does not answer goes too (killed first)
        daemons = [] if names else [m for m in everything if m.service == SUPERVISORD and m.pid != live]
        strays = [*daemons, *self._unmanaged(members, info, live)]
        if strays:
            self.echo(f"stopping {_listing(strays)}: running without this stack's supervisor")
        for name in supervised:
            self.supervisor.request_stop(name)
        self._signal_strays(strays)
        _reaper.wait_gone([*daemons, *members], self._grace, self.echo)
        if not names and live:
            self._stop_supervisord(live)
        _reaper.wait_ports_free(((s.name, s.port) for s in selected), self._is_ours)
        # no probe needed (each waits out its timeout on a closed port): we saw them exit
        self._record([ServiceState(name=s.name, url=s.probe.url, port=s.port, detail="stopped",
                                   log_file=str(s.program.log_file), data_dir=str(s.data_dir))
                      for s in selected])
        stray_services = {m.service for m in strays}
        return [s.name for s in selected if s.name in supervised or s.name in stray_services]

    def restart(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        self.down(tuple(s.name for s in self._select(names)))
        return self.up(names)

    def status(self, names: tuple[str, ...] = ()) -> list[ServiceState]:
        info, live = self._supervisor_view()
        strays = {m.service: m for m in _reaper.heads(self._unmanaged(self.identity.members(), info, live))}
        return self._parallel(lambda s: self._probe_once(s, info, strays.get(s.name)), self._select(names))

    def logs(self, name: str, lines: int = 50) -> str:
        (service,) = self._select((name,))
        return _tail(service.program.log_file, lines)

    # --- helpers -------------------------------------------------------------
    def _parallel(self, fn: Callable[[NativeService], ServiceState],
                  services: list[NativeService]) -> list[ServiceState]:
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            return list(pool.map(fn, services))

    def _state(self, service: NativeService, info: dict[str, dict] | None = None) -> ServiceState:
        proc = (self.supervisor.info() if info is None else info).get(service.name, {})
        running = proc.get("statename") in ALIVE
        return ServiceState(
            name=service.name, url=service.probe.url, port=service.port, running=running,
            pid=(proc.get("pid") or None) if running else None,
            started_at=_iso(proc.get("start")) if running else None,
            log_file=str(service.program.log_file), data_dir=str(service.data_dir),
            processes=[{"name": p["name"], **(service.program.labels(p["name"]) if service.program.labels else {}),
                        "pid": p.get("pid") or None, "state": p["statename"]}
                       for p in proc.get("processes", [])],
        )

    def _probe_once(self, service: NativeService, info: dict[str, dict],
                    stray: Member | None) -> ServiceState:
        state = self._state(service, info)
        try:
            state.version = service.probe.check(self.settings)
            state.healthy = True
        except ServiceError as error:
            state.detail = error.message
        if stray is not None and not state.running:
            state.running, state.pid = True, stray.pid
            state.detail = UNSUPERVISED
        elif state.healthy and not state.running:
            state.detail = "answers, but not under this stack's supervisor"
        return state

    def _wait_ready(self, service: NativeService) -> ServiceState:
        """The probe passes (its version), polled every READY_POLL_S for SERVICE_START_TIMEOUT_S;
        a program supervisord gave up on (FATAL) or that exited ends the wait at once."""
        seen = {"statename": "unknown", "error": "no answer yet"}

        def ready() -> str | None:
            seen["statename"] = self.supervisor.info().get(service.name, {}).get("statename", "unknown")
            if seen["statename"] in {"FATAL", "EXITED", "STOPPED"}:  # BACKOFF: supervisor still retries
                raise _GaveUp(seen["statename"])
            try:
                return service.probe.check(self.settings)
            except ServiceError as error:
                seen["error"] = error.message
                return None

        try:
            version = poll(ready, timeout_s=self.settings.service_start_timeout_s, wait_s=READY_POLL_S)
        except (PollTimedOut, _GaveUp):
            pass  # said below, with the supervisor's state, the last check and the log's tail
        else:
            if service.name == "redis" and int(version.split(".")[0]) < MIN_REDIS_MAJOR:
                raise ServiceError("redis", f"version {version} is too old (need >= 7)",
                                   fix="install redis-server 7 or newer")
            state = self._state(service)
            state.version, state.healthy = version, True
            return state
        raise ServiceNotReady(
            service.name,
            f"not ready within {self.settings.service_start_timeout_s:g} s"
            f" (supervisor state {seen['statename']}; last check: {seen['error']})",
            log_tail=_tail(service.program.log_file, LOG_TAIL_LINES),
            fix=f"read {service.program.log_file}; `invoke infra.restart -s {service.name}`",
        )

    def _check_port_free(self, service: NativeService, info: dict[str, dict]) -> None:
        holder = system.port_holder(service.port)
        if holder is None:
            return
        pid, description = holder
        supervised = info.get(service.name, {}).get("pid")
        if supervised and pid in system.process_tree_pids(supervised):
            return
        if self._is_ours(pid):  # another port setting than the one it was started with
            raise ServiceError(
                service.name,
                f"port {service.port} is held by this stack's own {description}, outside its supervisor",
                fix="`invoke infra.down` (it stops every process of this stack), then `invoke infra.up`",
            )
        raise PortInUse(service.name, service.port, description, setting=service.port_setting)

    # --- processes of this stack that no supervisor manages ---------------------
    def _supervisor_view(self) -> tuple[dict[str, dict], int | None]:
        """Programs by name and supervisord's pid; ({}, None) when it is dead or frozen."""
        live = self.supervisor.pid()  # one deadline when frozen, not one per call
        return (self.supervisor.info() if live else {}), live

    def _unmanaged(self, members: list[Member], info: dict[str, dict], live: int | None) -> list[Member]:
        """Members not under the live supervisord: all of them when it is dead or frozen."""
        if live is None:
            return members
        managed = {live}
        for proc in info.values():
            if proc.get("pid"):
                managed |= system.process_tree_pids(proc["pid"])
        return [m for m in members if m.pid not in managed]

    def _stop_strays(self, wanted: set[str]) -> None:
        """Stop this stack's processes left without a supervisor, so `up` can start them under one."""
        info, live = self._supervisor_view()
        strays = [m for m in self._unmanaged(self.identity.members(), info, live)
                  if m.service in wanted or m.service == SUPERVISORD]
        if not strays:
            return
        self.echo(f"found {_listing(strays)} of this stack running without its supervisor"
                  " (supervisord died or hangs): stopping them to restart them under a new one")
        self._signal_strays(strays)
        _reaper.wait_gone(strays, self._grace, self.echo)
        _reaper.wait_ports_free(((n, self.catalog[n].port) for n in sorted(wanted)), self._is_ours)

    def _signal_strays(self, strays: list[Member]) -> None:
        """Each server its own stop signal; a supervisord that does not answer is killed first,
        so it cannot restart (or, frozen, hold up) the servers we stop."""
        for daemon in (m for m in strays if m.service == SUPERVISORD):
            _reaper.kill_group(daemon)
        for member in _reaper.heads(strays):
            if member.service != SUPERVISORD:
                _reaper.send(member, self._stop_signal(member))

    def _stop_supervisord(self, live: int) -> None:
        """Ask the live supervisord (its programs already stopped) to exit, and wait for it."""
        daemon = [m for m in self.identity.members() if m.pid == live]
        self.supervisor.request_shutdown()
        _reaper.wait_gone(daemon, self._grace, self.echo)

    def _is_ours(self, pid: int | None) -> bool:
        if pid is None:
            return False
        try:
            return self.identity.owner(psutil.Process(pid)) is not None
        except psutil.Error:
            return False

    def _stop_signal(self, member: Member) -> int:
        service = self.catalog.get(member.service)
        return signal.Signals[f"SIG{service.program.stop_signal}"] if service else signal.SIGTERM

    def _grace(self, member: Member) -> float:
        if member.service == SUPERVISORD:
            return SUPERVISORD_STOP_GRACE_S
        service = self.catalog.get(member.service)
        return service.program.stop_wait_s if service else DEFAULT_STOP_GRACE_S

    def _prepare_postgres(self) -> bool:
        """The data dir's owner, mode and stale postmaster.pid, set right; whether it still needs
        its initdb (`_initdb`). Quick: it runs before any server starts, so its errors do too."""
        data = self.catalog["postgres"].data_dir
        if self.pg_user:
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
        stale = stale_postmaster_pid(data, postgres_bin_dir() / "postgres")
        if stale:
            self.echo(f"removing the stale {data / 'postmaster.pid'} ({stale})")
            (data / "postmaster.pid").unlink()
        return not (data / "PG_VERSION").exists()

    def _initdb(self) -> None:
        """A new cluster in the empty data dir, as the unprivileged user, with the settings' password."""
        data = self.catalog["postgres"].data_dir
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
        record(self.settings.services_file, self.name, states)


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"(no log yet at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or f"(the log {path} is empty so far)"


def _listing(members: list[Member]) -> str:
    return ", ".join(m.describe() for m in _reaper.heads(members))


def _iso(epoch: int | None) -> str | None:
    if not epoch:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
