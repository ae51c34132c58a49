"""Gauges the API refreshes on every scrape: things Prometheus cannot scrape itself.

Chroma's server has no /metrics endpoint (GET /metrics answers 404), so the API
probes it and exports ``chromadb_up`` and the document count per collection.
The budget gauges come from the shared ledger in Redis (today, every process). A probe that fails sets
``chromadb_up`` 0 and drops the counts: a scrape never fails because Chroma is down.
"""

from __future__ import annotations

import contextlib

import redis
import requests

from devmatrix.backup.schedule import latest_backup_metrics
from devmatrix.clients import CHROMA_COLLECTIONS
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError
from devmatrix.llm.ledger import LEDGER
from devmatrix.monitoring.metrics import (
    BACKUP_LAST_SIZE,
    BACKUP_LAST_SUCCESS,
    CHROMADB_COLLECTION_DOCUMENTS,
    CHROMADB_UP,
    LLM_BUDGET_SPENT_USD,
    LLM_BUDGET_USD,
)

PROBE_TIMEOUT_S = 1.0


def refresh(settings: Settings) -> None:
    _backup_gauges(settings)
    LLM_BUDGET_USD.set(settings.llm_budget_usd)
    # the shared budget of today (every process on this Redis); Redis down: its own alerts say so,
    # and the scrape does not wait out reconnects (one attempt, as for Chroma below)
    with contextlib.suppress(DevMatrixError, redis.RedisError):
        LLM_BUDGET_SPENT_USD.set(LEDGER.shared(settings, probe=True)["spent_usd"])
    base = f"{settings.chroma_url}{CHROMA_COLLECTIONS}"
    try:
        response = requests.get(base, timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
        counts = {}
        for collection in response.json():
            count = requests.get(f"{base}/{collection['id']}/count", timeout=PROBE_TIMEOUT_S)
            count.raise_for_status()
            counts[collection["name"]] = int(count.json())
    except (requests.RequestException, ValueError, KeyError, TypeError):
        CHROMADB_UP.set(0)
        CHROMADB_COLLECTION_DOCUMENTS.clear()
        return
    CHROMADB_UP.set(1)
    CHROMADB_COLLECTION_DOCUMENTS.clear()  # a deleted collection must not linger
    for name, count in counts.items():
        CHROMADB_COLLECTION_DOCUMENTS.labels(collection=name).set(count)


def _backup_gauges(settings: Settings) -> None:
    """The newest complete backup in BACKUP_DIR, whoever made it (the scheduler, cron, a person)."""
    latest = latest_backup_metrics(settings)
    if latest is None:
        return  # no backup yet: the gauge stays unset and BackupTooOld stays quiet
    BACKUP_LAST_SUCCESS.set(latest[0])
    BACKUP_LAST_SIZE.set(latest[1])
