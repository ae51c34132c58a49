"""Readiness checks that can fail: a real query, a real PING, a real heartbeat.

Each returns the server's version on success and raises ServiceError saying
what did not answer, at which address, and what to do.
"""

from __future__ import annotations

import psycopg2
import redis
import requests

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.deadlines import PROBE_TIMEOUT_S
from devmatrix.errors import ServiceError

ANTHROPIC_VERSION_HEADER = "2023-06-01"


POSTGRES_FIX = "`invoke infra.status` and `invoke infra.logs postgres`"


def _postgres_row(settings: Settings, database: str, sql: str, what: str, *, fix: str = POSTGRES_FIX) -> tuple | None:
    """One row of ``sql``, in one attempt within the probe's deadline. Every psycopg2 error, the
    connect's included, leaves through the one mapping as ``ServiceError("postgres", "what: …")``."""
    with (clients.map_exceptions("postgres", what, fix=fix),
          clients.postgres_io_timeout(PROBE_TIMEOUT_S)):
        conn = psycopg2.connect(**clients.postgres_params(settings, database=database))  # a probe: no retry
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()
        finally:
            conn.close()


def postgres(settings: Settings, *, database: str = "postgres") -> str:
    """Run a real SELECT on the server (the maintenance database unless told)."""
    (version,) = _postgres_row(
        settings, database, "SELECT current_setting('server_version')",
        f"no answer to SELECT at {settings.postgres_host}:{settings.postgres_port} as {settings.postgres_user}")
    return str(version)


def postgres_database(settings: Settings) -> str:
    """A real SELECT on the DevMatrix database (POSTGRES_DB), not only the server (the API's /ready)."""
    return postgres(settings, database=settings.postgres_db)


def pgvector(settings: Settings) -> str:
    """The vector extension is installed in the DevMatrix database."""
    row = _postgres_row(settings, settings.postgres_db, "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
                        f"cannot open database {settings.postgres_db!r}",
                        fix=f"{POSTGRES_FIX}; a database that does not exist: `invoke db`")
    if row is None:
        raise ServiceError(
            "postgres",
            f"extension 'vector' is not installed in {settings.postgres_db!r}",
            fix="run `invoke db` (CREATE EXTENSION vector)",
        )
    return str(row[0])


def redis_ping(settings: Settings) -> str:
    """PONG and the server's version, in one attempt (a probe's client): a stopped Redis is said at
    once, as Postgres's probe does, instead of after ~4 s of reconnecting (callers that wait for a
    restart poll this)."""
    client = clients.redis_client(settings, reconnect=False)
    try:
        with clients.map_exceptions("redis", f"no PONG from {settings.redis_host}:{settings.redis_port}",
                                    fix="`invoke infra.up -s redis`, then `invoke infra.logs redis`"):
            if not client.ping():
                raise redis.RedisError("PING did not return PONG")
            return str(client.info("server")["redis_version"])
    finally:
        client.close()


def _get_json(service: str, url: str) -> dict:
    with clients.map_exceptions(service, f"no healthy answer from {url}"):
        response = requests.get(url, timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
        return response.json()  # not JSON: requests' JSONDecodeError, a RequestException


def chroma(settings: Settings) -> str:
    """Chroma's v2 heartbeat (the seed's v1 path no longer exists in Chroma 1.x)."""
    beat = _get_json("chroma", f"{settings.chroma_url}{clients.CHROMA_HEARTBEAT}")
    if "nanosecond heartbeat" not in beat:
        raise ServiceError("chroma", f"unexpected heartbeat payload {beat!r}")
    try:
        response = requests.get(f"{settings.chroma_url}{clients.CHROMA_VERSION}", timeout=PROBE_TIMEOUT_S)
        return response.json() if response.ok else "unknown"
    except (requests.RequestException, ValueError):
        return "unknown"  # heartbeat passed; the version is only informative


def llm(settings: Settings) -> str:
    """The local Messages-API server reports its model as loaded."""
    body = _get_json("llm", f"{settings.llm_base_url}/health")
    if body.get("status") != "ok":
        raise ServiceError("llm", f"/health says {body!r}", fix="`invoke infra.logs llm`")
    return "llama.cpp"


def llm_backend(settings: Settings) -> str:
    """Whichever LLM backend is in force: the local server's /health, or (paid backend) the free
    model list with the key."""
    if settings.resolved_llm_backend == "local":
        return f"local {llm(settings)} at {settings.llm_base_url}"
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    base_url = settings.anthropic_base_url
    with clients.map_exceptions("llm", f"cannot reach {base_url}",
                                fix="check the network and ANTHROPIC_BASE_URL, or LLM_BACKEND=local"):
        response = requests.get(f"{base_url}/v1/models", params={"limit": 1},
                                headers={"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION_HEADER},
                                timeout=PROBE_TIMEOUT_S)
    if not response.ok:
        raise ServiceError("llm", f"{base_url}/v1/models answered {response.status_code}",
                           fix="check ANTHROPIC_API_KEY (401 means it is wrong)")
    return f"anthropic at {base_url}"


def api(settings: Settings) -> str:
    """The DevMatrix API answers its liveness route (the path is the API's /api/v1/health/live)."""
    body = _get_json("api", f"{settings.api_url}/api/v1/health/live")
    if body.get("status") != "ok":
        raise ServiceError("api", f"/api/v1/health/live says {body!r}", fix="`invoke infra.logs api`")
    return str(body.get("version", "unknown"))


def _ready_with_version(service: str, url: str, status_path: str, *version_keys: str) -> str:
    """A Prometheus-family server's /-/ready, then its version from the JSON at ``status_path``."""
    with clients.map_exceptions(service, f"not ready at {url}",
                                fix=f"`invoke monitoring.up`, then `invoke infra.logs {service}`"):
        requests.get(f"{url}/-/ready", timeout=PROBE_TIMEOUT_S).raise_for_status()
    info = _get_json(service, f"{url}{status_path}")
    for key in version_keys:
        info = info.get(key, {}) if isinstance(info, dict) else {}
    return str(info or "unknown")


def prometheus(settings: Settings) -> str:
    """Prometheus says it is ready to serve queries; its version from the build-info API."""
    return _ready_with_version("prometheus", settings.prometheus_url, "/api/v1/status/buildinfo", "data", "version")


def _exporter(service: str, base_url: str, up_metric: str) -> str:
    url = f"{base_url}/metrics"
    with clients.map_exceptions(service, f"no metrics at {url}",
                                fix=f"`invoke monitoring.up`, then `invoke infra.logs {service}`"):
        response = requests.get(url, timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
    # Serving /metrics is readiness; whether it reaches its database is `up_metric`,
    # which Prometheus scrapes and an alert watches.
    if f"\n{up_metric} " not in f"\n{response.text}":
        raise ServiceError(service, f"{url} does not export {up_metric}")
    return "exporter"


def postgres_exporter(settings: Settings) -> str:
    return _exporter("postgres-exporter", settings.postgres_exporter_url, "pg_up")


def redis_exporter(settings: Settings) -> str:
    return _exporter("redis-exporter", settings.redis_exporter_url, "redis_up")


def pushgateway(settings: Settings) -> str:
    """The Pushgateway says it is ready; its version from its status API."""
    return _ready_with_version("pushgateway", settings.pushgateway_url, "/api/v1/status",
                               "data", "build_information", "version")


def flower(settings: Settings) -> str:
    """Flower answers its health check and serves its worker metrics (it reaches the broker lazily:
    whether workers are seen is `flower_worker_online`, on the dashboard and in an alert)."""
    with clients.map_exceptions("flower", f"not healthy at {settings.flower_url}",
                                fix="`invoke monitoring.up`, then `invoke infra.logs flower`"):
        health = requests.get(f"{settings.flower_url}/healthcheck", timeout=PROBE_TIMEOUT_S)
        health.raise_for_status()
        metrics = requests.get(f"{settings.flower_url}/metrics", timeout=PROBE_TIMEOUT_S)
        metrics.raise_for_status()
    if health.text.strip() != "OK" or "flower_worker_online" not in metrics.text:
        raise ServiceError("flower", f"{settings.flower_url} answers, but not as Flower: /healthcheck said"
                                     f" {health.text[:80]!r}", fix="`invoke infra.logs flower`")
    return "flower"


def grafana(settings: Settings) -> str:
    """Grafana's /api/health (compose provider only: Grafana is not installable natively)."""
    body = _get_json("grafana", f"{settings.grafana_url}/api/health")
    if body.get("database") != "ok":
        raise ServiceError("grafana", f"/api/health says {body!r}", fix="`invoke infra.logs grafana`")
    return str(body.get("version", "unknown"))
