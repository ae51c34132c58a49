"""Batch processes and the workers' pool processes push their LLM, code-generation and RAG metrics to the Pushgateway.

Only the API is scraped; a CLI generation, a workflow or a test session ends before any
scrape, so it pushes once when it ends (the Pushgateway keeps the values, Prometheus
scrapes it with honor_labels). The grouping key is bounded: the process kind (`job`)
and this machine (`instance`), never a run id, so the gateway's series do not grow
with every run.

Each process starts its counters from zero, and a push replaces the group's values.
So that the gateway's counters only grow (and rate() works), a push adds this
process's counts to what the group already holds. Two processes of the same kind
pushing in the same instant may lose one's increments: the gateway has no atomic add.

A Celery worker's pool process (`devmatrix.jobs.worker`) lives for many jobs: it pushes after
each job (``GroupPusher``) under a group of its own, (job ``devmatrix-worker``, this host, its
node, its pool index), so that no two processes ever write one group. Its first push reads what
the group holds (a previous process of the same node and index); each push then replaces the
group with that plus this process's counts, so the group's counters only grow. Pool indexes
are reused when a process is replaced, so the groups are bounded by the workers' processes.
Queries sum over groups (``sum(llm_requests_total)``).

Monitoring is opt-in (`invoke monitoring.up`), so a stack without it is the normal case:
then nothing is pushed and nothing is said. Monitoring is on when the
stack's record (services.json) says the Pushgateway was started and not stopped since. With it
on, a gateway that does not answer within its deadline is one warning naming the address and
the fix, and the process goes on: a batch's results never depend on monitoring.
"""

from __future__ import annotations

import json
import socket
import urllib.error
from collections.abc import Callable, Iterable

import requests
import structlog
from prometheus_client import CollectorRegistry, push_to_gateway, pushadd_to_gateway
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from devmatrix.config import Settings
from devmatrix.deadlines import PUSHGATEWAY_TIMEOUT_S
from devmatrix.monitoring import metrics

log = structlog.get_logger("devmatrix.metrics")

# The process kinds that push (the `job` label of their series).
CLI_JOB = "devmatrix-cli"
TESTS_JOB = "devmatrix-tests"
WORKER_JOB = "devmatrix-worker"
# What a batch process measures; the API's HTTP metrics and scrape-time gauges are not pushed.
BATCH_METRICS = (
    metrics.LLM_REQUESTS, metrics.LLM_TOKENS, metrics.LLM_COST_USD, metrics.LLM_REQUEST_DURATION,
    metrics.CODE_GENERATION_ATTEMPTS, metrics.CODE_GENERATION_SUCCESS,
    metrics.RAG_RETRIEVAL_DURATION, metrics.EMBEDDING_CACHE_HITS, metrics.EMBEDDING_CACHE_MISSES,
)
_GROUPING_LABELS = ("job", "instance", "node", "pool_process")
# what a gateway that is down, hung or not a gateway raises
_PUSH_ERRORS = (OSError, urllib.error.URLError, requests.RequestException, ValueError)
# The registry's name of the gateway's service, as services.json records it.
PUSHGATEWAY_SERVICE = "pushgateway"


def monitoring_on(settings: Settings) -> bool:
    """Whether this stack runs its monitoring: services.json records the Pushgateway as running
    (`invoke monitoring.up` writes that, `monitoring.down` records it stopped). Read from the
    record, not by probing the port: "monitoring is off" is a choice and stays silent, while a
    gateway that was started and no longer answers is a fault worth one warning."""
    try:
        record = json.loads(settings.services_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no stack recorded yet, or a record being rewritten: off
        return False
    entry = record.get("services", {}).get(PUSHGATEWAY_SERVICE) or {}
    return bool(entry.get("running"))


def grouping_key() -> dict[str, str]:
    return {"instance": socket.gethostname()}


def worker_grouping_key(node: str, pool_index: int) -> dict[str, str]:
    """One worker pool process's group: its node (one per worker process of a stack) and its
    index in the pool (0 … concurrency-1, reused by the process that replaces it)."""
    return {**grouping_key(), "node": node, "pool_process": str(pool_index)}


def _batch_names() -> set[str]:
    return {family.name for metric in BATCH_METRICS for family in metric.collect()}


def _key(sample_name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A sample's identity; bucket bounds in one spelling (the client writes 1.0, the gateway 1)."""
    return sample_name, tuple(sorted((k, floatToGoString(float(v)) if k == "le" else v)
                                     for k, v in labels.items() if k not in _GROUPING_LABELS))


def merge(local: Iterable[Metric], pushed: Iterable[Metric]) -> list[Metric]:
    """``local``'s samples plus the same samples already in the gateway's group (`_created` dropped:
    a creation time is not a count)."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in pushed:
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                totals[_key(sample.name, sample.labels)] = sample.value
    merged = []
    for family in local:
        out = Metric(family.name, family.documentation, family.type, family.unit)
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            key = _key(sample.name, sample.labels)
            out.add_sample(sample.name, dict(key[1]), sample.value + totals.get(key, 0.0))
        merged.append(out)
    return merged


def _pushed(settings: Settings, job: str, key: dict[str, str]) -> list[Metric]:
    """The batch families the gateway holds for the group (job, ``key``)."""
    reply = requests.get(f"{settings.pushgateway_url}/metrics", timeout=PUSHGATEWAY_TIMEOUT_S)
    reply.raise_for_status()
    text = reply.text
    names = _batch_names()
    families = []
    for family in text_string_to_metric_families(text):
        if family.name not in names:
            continue
        family.samples = [s for s in family.samples if s.labels.get("job") == job
                          and all(s.labels.get(label, "") == key.get(label, "") for label in _GROUPING_LABELS
                                  if label != "job")]
        families.append(family)
    return families


class _Families:
    """A collector that yields fixed families (what one push sends)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def push(settings: Settings, job: str, *, registry: CollectorRegistry = metrics.REGISTRY,
         warn: Callable[[str], None] | None = None) -> bool:
    """Add this process's batch metrics to the gateway's group (job, this host). False when
    monitoring is off (silently: see the module docstring), or, after one warning, when the
    gateway does not answer in time: the caller's work is unaffected either way."""
    if not monitoring_on(settings):
        return False  # not even a debug line: structlog prints those where logging is unconfigured
    key = grouping_key()
    names = _batch_names()
    local = [family for family in registry.collect() if family.name in names]
    try:
        families = merge(local, _pushed(settings, job, key))
        outgoing = CollectorRegistry(auto_describe=False)
        outgoing.register(_Families(families))
        pushadd_to_gateway(settings.pushgateway_url.removeprefix("http://"), job=job, registry=outgoing,
                           grouping_key=key, timeout=PUSHGATEWAY_TIMEOUT_S)
    except _PUSH_ERRORS as error:
        _warn_not_pushed(settings, job, error, warn)
        return False
    log.debug("metrics_pushed", job=job, instance=key["instance"], families=len(families))
    return True


def _warn_not_pushed(settings: Settings, job: str, error: Exception, warn: Callable[[str], None] | None) -> None:
    message = (f"metrics not pushed: no Pushgateway answered at {settings.pushgateway_url} within"
               f" {PUSHGATEWAY_TIMEOUT_S:g} s ({type(error).__name__}); this run's results are"
               " unaffected, but Prometheus will not count them — fix: `invoke monitoring.up`")
    if warn is not None:  # the caller prints it for people; the log keeps the detail
        warn(f"warning: {message}")
        log.info("metrics_push_failed", job=job, url=settings.pushgateway_url, error=str(error))
    else:
        log.warning("metrics_push_failed", job=job, url=settings.pushgateway_url, error=str(error), message=message)


class GroupPusher:
    """The pushes of one long-lived process that owns its group (a worker's pool process, pushing
    after each job): the group's values are replaced by what the group held at this process's
    first push plus this process's counts so far (see the module docstring)."""

    def __init__(self, settings: Settings, job: str, key: dict[str, str]) -> None:
        self.settings, self.job, self.key = settings, job, key
        self._before: list[Metric] | None = None  # the group's values before this process pushed

    def push(self, registry: CollectorRegistry = metrics.REGISTRY) -> bool:
        """Replace the group's values; False when monitoring is off (silently) or, after one
        warning in the log, when the gateway does not answer in time (tried again next time)."""
        if not monitoring_on(self.settings):
            return False
        names = _batch_names()
        local = [family for family in registry.collect() if family.name in names]
        try:
            if self._before is None:
                self._before = _pushed(self.settings, self.job, self.key)
            outgoing = CollectorRegistry(auto_describe=False)
            outgoing.register(_Families(merge(local, self._before)))
            push_to_gateway(self.settings.pushgateway_url.removeprefix("http://"), job=self.job,
                            registry=outgoing, grouping_key=self.key, timeout=PUSHGATEWAY_TIMEOUT_S)
        except _PUSH_ERRORS as error:
            _warn_not_pushed(self.settings, self.job, error, None)
            return False
        return True
