"""The Prometheus scrape: THE registry of monitoring/metrics.py, breaker state fresh."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from devmatrix.api import scrape_time
from devmatrix.api._constants import API_PREFIX
from devmatrix.llm.breaker import STATE_VALUE
from devmatrix.monitoring.metrics import LLM_CIRCUIT_BREAKER_STATE, REGISTRY

router = APIRouter(prefix=f"{API_PREFIX}/metrics", tags=["metrics"])
_TEXT = {"schema": {"type": "string"}}


@router.get("/prometheus", response_class=Response, summary="Prometheus metrics (text or OpenMetrics)",
            responses={200: {"description": "the exposition", "content": {
                "text/plain": _TEXT, "application/openmetrics-text": _TEXT}}})
def prometheus(request: Request) -> Response:  # sync: the Chroma probe blocks (FastAPI runs it in a thread)
    state = request.app.state.resources.breaker_status()["state"]
    scrape_time.refresh(request.app.state.settings)
    LLM_CIRCUIT_BREAKER_STATE.set(STATE_VALUE[state])  # fresh on every scrape, not only on changes
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), media_type=content_type)
