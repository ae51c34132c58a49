"""`invoke validate` (seed §5.1): read-only proof that every component works.

Each check talks to the real thing and is timed. Scratch data a check writes
(a `test:` Redis key, a Chroma scratch collection) is removed before it
returns. Exit codes: 0 every critical check passed, 1 one failed, 2 the checks
could not run (bad settings).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import requests

from devmatrix import clients, readiness
from devmatrix.backup import journal
from devmatrix.checks import monitoring
from devmatrix.config import Settings, load_settings
from devmatrix.deadlines import PROBE_TIMEOUT_S, VALIDATE_DEADLINE_S
from devmatrix.errors import ConfigError, DevMatrixError, ServiceError
from devmatrix.monitoring import push
from devmatrix.monitoring.logging import configure_logging
from devmatrix.results import CheckResult, Status, timed
from devmatrix.setup import git, rag
from devmatrix.setup.db import pending_migrations
from devmatrix.setup.env import check_llm_backend
from devmatrix.stack import redis_aof, registry
from devmatrix.stack.providers import resolve_provider

READY_BANNER = "System is PRODUCTION READY (Local)"
CANNOT_RUN = 2  # exit code: the checks could not run (a bad .env.test)


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


def _redis_queue(s: Settings) -> CheckResult:
    """The broker's settings: queued jobs and the budget ledger survive a crash, and no key is evicted."""
    client = clients.redis_client(s)
    try:
        with clients.redis_guard(f"{s.redis_host}:{s.redis_port}", "CONFIG GET"):
            found = {name: client.config_get(name).get(name) for name in redis_aof.QUEUE_SETTINGS}
    finally:
        client.close()
    wrong = {name: value for name, value in found.items() if value != redis_aof.QUEUE_SETTINGS[name]}
    if wrong:
        return CheckResult("redis queue settings", Status.FAIL, "; ".join(
            f"FAIL: expected {name} {redis_aof.QUEUE_SETTINGS[name]}, found {value}" for name, value in wrong.items())
            + " — fix: `invoke infra.restart -s redis` (the native provider sets them; elsewhere set them"
              " in that server's redis.conf)")
    return CheckResult("redis queue settings", Status.PASS,
                       ", ".join(f"{name} {value}" for name, value in found.items()))


def _chroma(s: Settings) -> CheckResult:
    """Heartbeat, then add and query a vector in a scratch collection, removed before returning."""
    readiness.chroma(s)
    name = f"validate_scratch_{uuid.uuid4().hex[:12]}"
    with clients.ChromaHTTP(s.chroma_url, timeout_s=PROBE_TIMEOUT_S) as chroma:
        collection = chroma.create(name, {"hnsw:space": "cosine"}, None)
        try:
            chroma.add(collection, {"ids": ["probe"], "embeddings": [[1.0, 0.0, 0.0]], "documents": ["probe"]})
            ids = chroma.query(collection, [[1.0, 0.0, 0.0]], 1)["ids"]
        finally:
            chroma.delete(name)
    if ids != [["probe"]]:
        return CheckResult("chroma", Status.FAIL, f"scratch query returned {ids!r}")
    return CheckResult("chroma", Status.PASS, "heartbeat ok; add/query in a scratch collection ok")


def _llm(s: Settings) -> CheckResult:
    return check_llm_backend(s)


def _git(s: Settings) -> CheckResult:
    return git.check_workspace(s)


def _restore_state(s: Settings) -> CheckResult:
    """A restore killed half-way can leave the stores mixed (the backup in one, live data in another)."""
    state = journal.pending(s)
    if state is None:
        return CheckResult("restore state", Status.PASS, "no interrupted restore")
    return CheckResult("restore state", Status.FAIL, f"{journal.describe(state)}; the stores may hold a mix of"
                       " the backup and the live data — fix: `invoke restore --recover`")


def _rag(s: Settings) -> list[CheckResult]:
    return rag.check(s)


def _probe(spec: registry.ServiceSpec, provider: registry.ProviderName) -> Callable[[Settings], CheckResult]:
    """A service with no deeper check: its readiness probe, against its URL; where this machine runs
    it (the workers, natively or joined to external stores), the probe of this stack's own processes."""
    probe = spec.local_probe() if registry.runs_here(spec, provider) else spec.probe

    def check(s: Settings) -> CheckResult:
        return CheckResult(spec.name, Status.PASS, f"ready at {spec.url(s)}; {probe(s)}")

    return check


def _grafana(s: Settings, provider: str) -> CheckResult:
    if "grafana" not in registry.monitoring(provider):
        return CheckResult("grafana", Status.NOT_CHECKED,
                           f"runs only under the compose provider (this is {provider}); its dashboard"
                           " is code, checked by `invoke monitoring.check`", critical=False)
    try:
        return CheckResult("grafana", Status.PASS, f"/api/health ok; version {readiness.grafana(s)}",
                           critical=False)
    except ServiceError as error:
        return CheckResult("grafana", Status.FAIL, str(error), critical=False)


def _metrics_push(s: Settings) -> CheckResult:
    """Which of the two holds for batch runs (CLI, workflows, test tiers) and the workers: they push, or
    say nothing."""
    if push.monitoring_on(s):
        return CheckResult("metrics push", Status.PASS, f"monitoring is up: batch runs push their metrics to"
                           f" {s.pushgateway_url} when they end, workers after each job", critical=False)
    return CheckResult("metrics push", Status.NOT_CHECKED, "monitoring is off (the default): batch runs and"
                       " workers push nothing and say nothing; `invoke monitoring.up` makes them push", critical=False)


def _monitoring(s: Settings, provider: str) -> list[CheckResult]:
    """Non-critical: Prometheus' targets all up, every dashboard/alert metric on a live scrape, Grafana,
    and whether batch runs push."""
    grafana, pushing = _grafana(s, provider), _metrics_push(s)
    try:
        readiness.prometheus(s)
    except ServiceError:
        return [CheckResult("prometheus", Status.NOT_CHECKED,
                            f"not running at {s.prometheus_url}; start it with `invoke monitoring.up`",
                            critical=False), grafana, pushing]
    results = [monitoring.targets(s, wait_s=0), monitoring.metrics_coverage(s)]
    for result in results:
        result.critical = False
    return [*results, grafana, pushing]


# The check of each service the registry marks `deep_check` (a round trip, a scratch write);
# a test holds this table to the registry.
DEEP: dict[str, Callable[[Settings], CheckResult]] = {
    "postgres": _postgres, "redis": _redis, "chroma": _chroma, "llm": _llm,
}
DEEP_CHECKS = {name: DEEP[name] for name in registry.deep_checked() if name in DEEP}


def checks(provider: registry.ProviderName) -> dict[str, Callable[[Settings], CheckResult | list[CheckResult]]]:
    """Every core service the provider runs (critical), then what lies on top of them.

    The LLM is checked whatever the backend (the paid API is not a service of ours, but
    generation needs it), so it is named even where the registry leaves the local server out.
    """
    services: dict[str, Callable[[Settings], CheckResult | list[CheckResult]]] = {
        name: DEEP_CHECKS.get(name) or _probe(registry.spec(name), provider)
        for name in registry.names("core", provider)
    }
    return {**services, "redis queue settings": _redis_queue, "pgvector + schema": _pgvector,
            "git workspace": _git, "restore state": _restore_state,
            "rag": _rag,
            "monitoring": lambda s: _monitoring(s, provider)}


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


# validate stops waiting here, so that it reports within VALIDATE_DEADLINE_S: the rest is
# for assembling and printing the report. A check's own calls have deadlines, but a check may
# make several (a retried probe), and a busy machine stretches each: only this bounds the whole.
VALIDATE_WAIT_S = VALIDATE_DEADLINE_S - 0.5


def load_check_clients() -> None:
    """Import what the checks call before any clock starts: the LLM client's SDK (anthropic) takes
    1-4 s to import on a busy machine, and the llm check would pay it inside its wait. `invoke`
    itself does not load it (devmatrix.llm's face is lazy); the first command that checks does."""
    import_module("devmatrix.llm.client")


def run_validation(settings: Settings, provider: registry.ProviderName | None = None, *,
                   wait_s: float = VALIDATE_WAIT_S) -> list[CheckResult]:
    """Every check, in parallel (they are independent and mostly wait on I/O); a check with no
    result after ``wait_s`` has failed, named, and is left to end by its own deadlines."""
    todo = checks(provider or resolve_provider(settings))
    load_check_clients()
    pool = ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="validate")
    futures = {name: pool.submit(_run, name, check, settings) for name, check in todo.items()}
    done, _ = wait(futures.values(), timeout=wait_s)
    pool.shutdown(wait=False, cancel_futures=True)
    results: list[CheckResult] = []
    for name, future in futures.items():
        if future in done:
            results.extend(future.result())
        else:
            results.append(CheckResult(
                name, Status.FAIL, f"{name}: no result within {wait_s:g} s (validate's deadline is"
                f" {VALIDATE_DEADLINE_S:g} s): hung, or too slow on a busy machine — fix: `invoke"
                f" infra.status`, then `invoke infra.logs <service>`; busy: run `invoke validate` again",
                critical=name != "monitoring", seconds=wait_s))
    return results


def exit_code(results: list[CheckResult]) -> int:
    return 1 if any(r.failed and r.critical for r in results) else 0


@dataclass
class Report:
    """What `invoke validate` and scripts/validate_local_production.py print and exit with."""

    settings: Settings | None
    provider: str
    results: list[CheckResult] = field(default_factory=list)
    checks_seconds: float = 0.0  # the checks' own wall time, which VALIDATE_DEADLINE_S bounds
    error: str = ""  # why the checks could not run (exit 2)
    problems: list[str] = field(default_factory=list)  # each bad line or value of the settings file
    fix: str = ""

    @property
    def exit_code(self) -> int:
        return CANNOT_RUN if self.error else exit_code(self.results)

    @property
    def critical(self) -> list[CheckResult]:
        return [r for r in self.results if r.critical]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.critical if r.status is Status.PASS)

    @property
    def title(self) -> str:
        backend = self.settings.resolved_llm_backend if self.settings else "?"
        return f"DevMatrix validation — provider {self.provider}, LLM backend {backend}"

    @property
    def summary(self) -> str:
        return f"{self.passed}/{len(self.critical)} critical checks passed"

    @property
    def verdict(self) -> str:
        if self.error:
            return f"FAIL: cannot validate: {self.error}" + (f" — fix: {self.fix}" if self.fix else "")
        if self.exit_code == 0:
            return READY_BANNER
        return "NOT READY: failed: " + ", ".join(r.name for r in self.critical if r.failed)

    def to_dict(self) -> dict[str, object]:
        if self.error:
            return {"ready": False, "exit_code": self.exit_code, "error": f"cannot validate: {self.error}",
                    "problems": self.problems, "fix": self.fix}
        assert self.settings is not None
        return {"ready": self.exit_code == 0, "passed": self.passed, "total": len(self.critical),
                "provider": self.provider, "llm_backend": self.settings.resolved_llm_backend,
                "checks_seconds": round(self.checks_seconds, 3),
                "approval_min_score": self.settings.approval_min_score, "checks": [r.to_dict() for r in self.results]}


def validate(env_file: Path) -> Report:
    """Load the settings (a bad file: exit 2, nothing checked) and run every check."""
    try:
        settings = load_settings(env_file, require_file=True)
    except ConfigError as error:
        return Report(None, "?", error=error.message, problems=list(error.problems), fix=error.fix or "")
    configure_logging(settings, report=True)  # warnings only on stderr: nothing inside the table
    provider = resolve_provider(settings)
    load_check_clients()  # not in checks_seconds: an import, not a check (chaos holds that to 10 s)
    started = time.monotonic()
    results = run_validation(settings, provider)
    return Report(settings, provider, results, checks_seconds=time.monotonic() - started)
