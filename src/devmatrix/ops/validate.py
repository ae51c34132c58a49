"""`invoke validate` (seed §5.1): read-only proof that every component works.

Each check talks to the real thing and is timed. Scratch data a check writes
(a `test:` Redis key, a Chroma scratch collection) is removed before it
returns. Exit codes: 0 every critical check passed, 1 one failed, 2 the checks
could not run (bad settings).
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.deadlines import PROBE_TIMEOUT_S
from devmatrix.errors import DevMatrixError, ServiceError
from devmatrix.ops import git
from devmatrix.ops.checks import CheckResult, Status, timed
from devmatrix.ops.db import pending_migrations
from devmatrix.ops.env import check_llm_backend
from devmatrix.ops.services import readiness

READY_BANNER = "System is PRODUCTION READY (Local)"
HTTP_TIMEOUT_S = PROBE_TIMEOUT_S


def _postgres(s: Settings) -> CheckResult:
    version = readiness.postgres(s, database=s.postgres_db)
    return CheckResult("postgres", Status.PASS, f"SELECT ok on {s.postgres_db}; server {version}")


def _pgvector(s: Settings) -> CheckResult:
    version = readiness.pgvector(s)
    pending = pending_migrations(s)
    if pending:
        return CheckResult("pgvector + schema", Status.FAIL,
                           f"vector {version}; migrations pending: "
                           f"{', '.join(m.version for m in pending)} — run `invoke db`")
    return CheckResult("pgvector + schema", Status.PASS, f"vector {version}; schema up to date")


def _redis(s: Settings) -> CheckResult:
    version = readiness.redis_ping(s)
    client = clients.redis_client(s)
    key = f"test:validate:{uuid.uuid4().hex}"
    try:
        with clients.redis_guard(f"{s.redis_host}:{s.redis_port}", "SET/GET"):
            client.set(key, "OK", ex=60)
            value = client.get(key)
            client.delete(key)
    finally:
        client.close()
    if value != "OK":
        return CheckResult("redis", Status.FAIL, f"SET/GET returned {value!r}, expected 'OK'")
    return CheckResult("redis", Status.PASS, f"PONG; SET/GET ok; server {version}")


def _chroma(s: Settings) -> CheckResult:
    """Heartbeat, then add and query a vector in a scratch collection, over Chroma's v2 REST API.

    Plain HTTP rather than chromadb.HttpClient: the client keeps an internal admin
    session it never closes, and this check must leave nothing behind.
    """
    readiness.chroma(s)
    base = f"{s.chroma_url}/api/v2/tenants/default_tenant/databases/default_database/collections"
    name = f"validate_scratch_{uuid.uuid4().hex[:12]}"
    with requests.Session() as http:
        created = http.post(base, json={"name": name, "metadata": {"hnsw:space": "cosine"}},
                            timeout=HTTP_TIMEOUT_S)
        created.raise_for_status()
        collection = f"{base}/{created.json()['id']}"
        try:
            http.post(f"{collection}/add", timeout=HTTP_TIMEOUT_S, json={
                "ids": ["probe"], "embeddings": [[1.0, 0.0, 0.0]], "documents": ["probe"],
            }).raise_for_status()
            hits = http.post(f"{collection}/query", timeout=HTTP_TIMEOUT_S, json={
                "query_embeddings": [[1.0, 0.0, 0.0]], "n_results": 1,
            })
            hits.raise_for_status()
        finally:
            http.delete(f"{base}/{name}", timeout=HTTP_TIMEOUT_S)
    if hits.json()["ids"] != [["probe"]]:
        return CheckResult("chroma", Status.FAIL, f"scratch query returned {hits.json()['ids']!r}")
    return CheckResult("chroma", Status.PASS, "heartbeat ok; add/query in a scratch collection ok")


def _llm(s: Settings) -> CheckResult:
    return check_llm_backend(s)


def _git(s: Settings) -> CheckResult:
    return git.check_workspace(s)


def _restore_state(s: Settings) -> CheckResult:
    """A restore killed half-way can leave the stores mixed (the backup in one, live data in another)."""
    from devmatrix.ops.backup import journal

    state = journal.pending(s)
    if state is None:
        return CheckResult("restore state", Status.PASS, "no interrupted restore")
    return CheckResult("restore state", Status.FAIL, f"{journal.describe(state)}; the stores may hold a mix of"
                       " the backup and the live data — fix: `invoke restore --recover`")


def _rag(s: Settings) -> list[CheckResult]:
    if importlib.util.find_spec("devmatrix.ops.rag") is None:
        return [CheckResult("rag", Status.NOT_CHECKED, "RAG is not yet available in this build",
                            critical=False)]
    from devmatrix.ops import rag

    return rag.check(s)


def _monitoring(s: Settings) -> list[CheckResult]:
    """Non-critical: Prometheus' targets all up and every dashboard/alert metric on a live scrape."""
    from devmatrix.ops import monitoring

    grafana = CheckResult("grafana", Status.NOT_CHECKED,
                          "runs only under the compose provider (not installable natively); its dashboard"
                          " is code, checked by `invoke monitoring.check`", critical=False)
    url = f"{monitoring.prometheus_url(s)}/-/ready"
    try:
        requests.get(url, timeout=HTTP_TIMEOUT_S).raise_for_status()
    except requests.RequestException:
        return [CheckResult("prometheus", Status.NOT_CHECKED,
                            f"not running at {url}; start it with `invoke monitoring.up`", critical=False),
                grafana]
    results = [monitoring.targets(s, wait_s=0), monitoring.metrics_coverage(s)]
    for result in results:
        result.critical = False
    return [*results, grafana]


CHECKS: dict[str, Callable[[Settings], CheckResult | list[CheckResult]]] = {
    "postgres": _postgres,
    "pgvector + schema": _pgvector,
    "redis": _redis,
    "chroma": _chroma,
    "llm": _llm,
    "git workspace": _git,
    "restore state": _restore_state,
    "rag": _rag,
    "monitoring": _monitoring,
}


def _run(name: str, check: Callable, settings: Settings) -> list[CheckResult]:
    with timed() as elapsed:
        try:
            outcome = check(settings)
            results = outcome if isinstance(outcome, list) else [outcome]
        except ServiceError as error:
            results = [CheckResult(name, Status.FAIL, str(error))]  # the message and its fix
        except DevMatrixError as error:
            results = [CheckResult(name, Status.FAIL, str(error))]
        except requests.RequestException as error:
            results = [CheckResult(name, Status.FAIL, f"HTTP error: {error}")]
        except Exception as error:  # noqa: BLE001 - a check that crashes has failed; say how
            results = [CheckResult(name, Status.FAIL, f"{type(error).__name__}: {error}")]
    for result in results:
        result.seconds = result.seconds or elapsed()
    return results


def run_validation(settings: Settings) -> list[CheckResult]:
    """Every check, in parallel (they are independent and mostly wait on I/O)."""
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = [pool.submit(_run, name, check, settings) for name, check in CHECKS.items()]
        return [result for future in futures for result in future.result()]


def exit_code(results: list[CheckResult]) -> int:
    return 1 if any(r.failed and r.critical for r in results) else 0
