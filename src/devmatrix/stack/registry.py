"""The one list of DevMatrix's services; everything that names a service derives from it.

One `ServiceSpec` per service: its group, its port setting, where it answers
(`url(settings)`), the readiness probe that can fail, how the native provider runs
it, its compose service, and how Prometheus scrapes it. The providers (native,
compose, external), `invoke validate`, the API's /ready, the `infra` help and the
Prometheus configs of both providers read it, so every provider runs the same core
set and adding a service is one entry here (docs/architecture.md, "Adding a service").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.jobs import service as workers
from devmatrix.monitoring.prometheus import API_METRICS_PATH, ScrapeJob
from devmatrix.stack import _programs, backup_scheduler

Group = Literal["core", "monitoring", "schedule"]
ProviderName = Literal["native", "compose", "external"]
# "core": a bare `infra.up` (and phase1) starts it; "monitoring": `invoke monitoring.up`;
# "schedule": `invoke backup.schedule` (the native provider only).
GROUPS: tuple[Group, ...] = ("core", "monitoring", "schedule")


@dataclass(frozen=True)
class Scrape:
    """How Prometheus scrapes a service (the job name is what the alert rules select on)."""

    job: str
    metrics_path: str = "/metrics"
    honor_labels: bool = False


@dataclass(frozen=True)
class Store:
    """A service that holds data: `invoke backup`/`restore` save and swap it (the manifest's section
    is the service's name), `invoke cleanup` removes its test data (a scope of the same name)."""

    backup: str  # how it is backed up
    test_data: str  # what `invoke cleanup` removes from it


@dataclass(frozen=True)
class Drill:
    """One chaos case: ``fault`` on the service during the workload that depends on it most."""

    fault: Literal["kill", "freeze"]
    during: str  # a workload of devmatrix.chaos.work.WORKLOADS


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    group: Group
    port_setting: str | None  # the Settings field (upper-cased: the .env.test name); None: no port
    url: Callable[[Settings], str]
    probe: Callable[[Settings], str]  # the version, or ServiceError
    native: _programs.Builder | None = None  # how the native provider runs it; None: it does not
    compose: str | None = None  # its service in infra/docker-compose.yml; None: not under compose
    compose_port: int = 0  # the port it listens on inside its container
    scrape: Scrape | None = None
    external: bool = True  # the external provider checks it
    # The external provider runs it on this machine (natively, supervised) instead of checking
    # someone else's: the workers, which is how a second machine joins the first one's stores.
    joins: bool = False
    # What answers for THIS stack's own processes, where ``probe`` would take any machine's (the
    # workers of every machine answer the same broker): what the provider that runs it waits for.
    own_probe: Callable[[Settings], str] | None = None
    # Whether the stack needs it with these settings (the local LLM only serves the local backend).
    wanted: Callable[[Settings], bool] = field(default=lambda settings: True)
    store: Store | None = None  # it holds data: backup, restore and cleanup cover it
    # Every DevMatrix call to it has a client deadline: frozen, the work fails within it and names
    # it (chaos keeps it frozen until the work ends; `invoke validate` with it frozen exits 1).
    deadline: bool = False
    deep_check: str | None = None  # what `invoke validate` checks beyond the probe (checks.validate.DEEP)
    # What the API's /ready runs: the probe (default), another one, or nothing (the API itself).
    ready: Callable[[Settings], object] | Literal["probe"] | None = "probe"
    drills: tuple[Drill, ...] = ()  # the chaos cases `nox -s chaos` runs on it

    def ready_probe(self) -> Callable[[Settings], object] | None:
        return self.probe if self.ready == "probe" else self.ready

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.port_setting)) if self.port_setting else 0

    def local_probe(self) -> Callable[[Settings], str]:
        """The probe of this stack's own processes (where they are this stack's to run)."""
        return self.own_probe or self.probe

    def runs_on(self, provider: ProviderName) -> bool:
        return {"native": self.native is not None, "compose": self.compose is not None,
                "external": self.external}[provider]


def _local_llm(settings: Settings) -> bool:
    return settings.resolved_llm_backend == "local"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("postgres", "core", "postgres_port",
                lambda s: f"postgresql://{s.postgres_host}:{s.postgres_port}", readiness.postgres,
                native=_programs.postgres, compose="postgres", compose_port=5432,
                store=Store("pg_dump -Fc of POSTGRES_DB", "code_generation_logs and workflows of test runs"),
                deadline=True, deep_check="SELECT on POSTGRES_DB", ready=readiness.postgres_database,
                drills=(Drill("kill", "generate"), Drill("freeze", "api"))),
    ServiceSpec("redis", "core", "redis_port",
                lambda s: f"redis://{s.redis_host}:{s.redis_port}", readiness.redis_ping,
                native=_programs.redis, compose="redis", compose_port=6379,
                store=Store("BGSAVE → RDB, checked by redis-check-rdb", "keys matching test:*"),
                deadline=True, deep_check="SET/GET of a test: key",
                drills=(Drill("kill", "workflow"), Drill("freeze", "workflow"))),
    ServiceSpec("chroma", "core", "chromadb_port", lambda s: s.chroma_url, readiness.chroma,
                native=_programs.chroma, compose="chroma", compose_port=8000,
                store=Store("every collection exported over HTTP", "collections named test_* and validate_scratch_*"),
                deadline=True, deep_check="add/query in a scratch collection",
                drills=(Drill("kill", "rag"), Drill("freeze", "rag"))),
    ServiceSpec("llm", "core", "llm_port", lambda s: s.llm_base_url, readiness.llm,
                native=_programs.llm, compose="llm", compose_port=8080, wanted=_local_llm,
                deadline=True, deep_check="a known-answer round trip (2 + 2)", ready=readiness.llm_backend,
                drills=(Drill("kill", "generate"), Drill("freeze", "api"))),
    ServiceSpec("api", "core", "api_port", lambda s: s.api_url, readiness.api,
                native=_programs.api, compose="api", compose_port=8000,
                scrape=Scrape("devmatrix-api", API_METRICS_PATH), ready=None,  # /ready is the API answering
                drills=(Drill("kill", "api"), Drill("freeze", "api"))),
    # Celery workers (devmatrix.jobs): WORKER_COUNT processes, no port (they take jobs from the broker)
    ServiceSpec(workers.SERVICE, "core", None, workers.url, workers.readiness, native=_programs.worker,
                compose="worker", joins=True, own_probe=workers.own_readiness,
                drills=(Drill("kill", "generate"), Drill("freeze", "api"))),
    ServiceSpec(backup_scheduler.SERVICE, "schedule", None,  # no port: it only runs backups
                lambda s: f"file://{(s.devmatrix_state_dir / 'backup-scheduler.heartbeat').resolve()}",
                backup_scheduler.readiness, native=_programs.backup_scheduler, external=False),
    ServiceSpec("prometheus", "monitoring", "prometheus_port", lambda s: s.prometheus_url,
                readiness.prometheus, native=_programs.prometheus, compose="prometheus", compose_port=9090,
                scrape=Scrape("prometheus")),
    ServiceSpec("postgres-exporter", "monitoring", "postgres_exporter_port", lambda s: s.postgres_exporter_url,
                readiness.postgres_exporter, native=_programs.postgres_exporter, compose="postgres-exporter",
                compose_port=9187, scrape=Scrape("postgres")),
    ServiceSpec("redis-exporter", "monitoring", "redis_exporter_port", lambda s: s.redis_exporter_url,
                readiness.redis_exporter, native=_programs.redis_exporter, compose="redis-exporter",
                compose_port=9121, scrape=Scrape("redis")),
    ServiceSpec("pushgateway", "monitoring", "pushgateway_port", lambda s: s.pushgateway_url,
                readiness.pushgateway, native=_programs.pushgateway, compose="pushgateway",
                compose_port=9091, scrape=Scrape("pushgateway", honor_labels=True)),
    # Flower: the Celery workers (online, runtimes, failures) as metrics; the queue's length is the
    # redis-exporter's (a key it checks), since Flower exports none
    ServiceSpec("flower", "monitoring", "flower_port", lambda s: s.flower_url, readiness.flower,
                native=_programs.flower, compose="flower", compose_port=5555, scrape=Scrape("flower")),
    # Grafana is not installable natively: compose only, and outside it a server of your own.
    ServiceSpec("grafana", "monitoring", "grafana_port", lambda s: s.grafana_url, readiness.grafana,
                compose="grafana", compose_port=3000, external=False),
)
BY_NAME: dict[str, ServiceSpec] = {spec.name: spec for spec in SERVICES}


def spec(name: str) -> ServiceSpec:
    return BY_NAME[name]


def names(group: Group, provider: ProviderName, settings: Settings | None = None) -> tuple[str, ...]:
    """The services of ``group`` that ``provider`` runs (with ``settings``: only those they need)."""
    return tuple(s.name for s in SERVICES if s.group == group and s.runs_on(provider)
                 and (settings is None or s.wanted(settings)))


def core(settings: Settings, provider: ProviderName) -> tuple[str, ...]:
    """What a bare `infra.up` starts: the same set under every provider."""
    return names("core", provider, settings)


def runs_here(spec: ServiceSpec, provider: ProviderName) -> bool:
    """Whether ``provider`` runs the service on this machine, as this stack's own processes."""
    return spec.native is not None if provider == "native" else provider == "external" and spec.joins


def joined(settings: Settings) -> tuple[str, ...]:
    """The core services the external provider runs here itself: what a second machine adds."""
    return tuple(name for name in core(settings, "external") if BY_NAME[name].joins)


def stores() -> tuple[str, ...]:
    """The services that hold data: what backup, restore and cleanup cover."""
    return tuple(s.name for s in SERVICES if s.store is not None)


def with_deadline() -> tuple[str, ...]:
    """The services every DevMatrix call reaches with a deadline."""
    return tuple(s.name for s in SERVICES if s.deadline)


def deep_checked() -> tuple[str, ...]:
    """The services `invoke validate` checks beyond their readiness probe."""
    return tuple(s.name for s in SERVICES if s.deep_check)


def drills() -> tuple[tuple[str, str, str], ...]:
    """(service, fault, workload) for every drill of every service."""
    return tuple((s.name, d.fault, d.during) for s in SERVICES for d in s.drills)


def monitoring(provider: ProviderName) -> tuple[str, ...]:
    """What `invoke monitoring.up` starts under ``provider``."""
    return names("monitoring", provider)


_DEFAULT_SERVICES = {
    "up": "default: the core services (the monitoring ones start with `invoke monitoring.up`)",
    "down": "default: every service, the monitoring ones too, and the supervisor",
    "restart": "default: the core services, each stopped, then started until ready",
    "status": "default: the core services (`invoke monitoring.check` for the monitoring ones)",
}


def service_help(task: str) -> str:
    """The `-s/--service` help of one `infra` task (each says what its own default does)."""
    core = ",".join(s.name for s in SERVICES if s.group == "core")
    return f"service name(s), comma-separated: {core} (or a monitoring one); {_DEFAULT_SERVICES[task]}"


def _jobs(provider: Literal["native", "compose"], target: Callable[[ServiceSpec], str]) -> tuple[ScrapeJob, ...]:
    return tuple(ScrapeJob(s.scrape.job, target(s), s.scrape.metrics_path, s.scrape.honor_labels)
                 for s in SERVICES if s.scrape is not None and s.runs_on(provider))


def native_scrape_jobs(settings: Settings) -> tuple[ScrapeJob, ...]:
    """The native Prometheus' targets: each service's own host:port."""
    return _jobs("native", lambda s: urlsplit(s.url(settings)).netloc)


def compose_scrape_jobs() -> tuple[ScrapeJob, ...]:
    """The compose Prometheus' targets: service:port on compose's network (no settings involved)."""
    return _jobs("compose", lambda s: f"{s.compose}:{s.compose_port}")
