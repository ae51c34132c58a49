"""Health: liveness, readiness (real checks that can fail), and the LLM circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from devmatrix import __version__
from devmatrix.api._constants import API_PREFIX, READY_CHECK_WORKERS
from devmatrix.api.auth import require_token
from devmatrix.api.schemas import BreakerStatus, CheckOutcome, ErrorBody, Live, Ready
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm import breaker as breakers
from devmatrix.stack import registry

router = APIRouter(prefix=f"{API_PREFIX}/health", tags=["health"])
log = structlog.get_logger("devmatrix.api")


@router.get("/live", response_model=Live, summary="The process answers (no dependency is checked)")
async def live() -> Live:
    return Live(version=__version__)


def ready_checks(settings: Settings) -> dict[str, Callable[[], str]]:
    """What /ready checks: every core service whose registry entry names a ready probe (all but the
    API itself). Each returns a version or raises ServiceError saying what failed."""
    return {spec.name: partial(_as_text, probe, settings)
            for spec in registry.SERVICES if spec.group == "core" and (probe := spec.ready_probe()) is not None}


def _as_text(probe: Callable[[Settings], object], settings: Settings) -> str:
    return str(probe(settings))  # Chroma's version is a JSON value


def _run(check: Callable[[], str]) -> CheckOutcome:
    start = time.perf_counter()
    try:
        detail, ok = check(), True
    except ServiceError as error:
        detail, ok = str(error), False
    except Exception as error:  # noqa: BLE001 - a crashing check has failed; say how, keep the others
        detail, ok = f"the check crashed: {type(error).__name__}: {error}", False
    return CheckOutcome(ok=ok, detail=detail, seconds=round(time.perf_counter() - start, 4))


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready, "description": "a check failed"}},
            summary="Postgres SELECT, Redis PING, Chroma heartbeat, LLM backend: 503 names what failed")
def ready(request: Request) -> JSONResponse:
    checks = ready_checks(request.app.state.settings)
    with ThreadPoolExecutor(max_workers=READY_CHECK_WORKERS) as pool:
        outcomes = dict(zip(checks, pool.map(_run, checks.values()), strict=True))
    failed = [name for name, outcome in outcomes.items() if not outcome.ok]
    report = Ready(status="not_ready" if failed else "ready", failed=failed, checks=outcomes)
    if failed:
        log.warning("not_ready", failed=failed)
    return JSONResponse(report.model_dump(mode="json"), status_code=503 if failed else 200)


@router.get("/circuit-breaker", response_model=BreakerStatus,
            summary="The LLM circuit breaker: state, consecutive failures, opened_at")
async def circuit_breaker(request: Request) -> BreakerStatus:
    return BreakerStatus.model_validate(request.app.state.resources.breaker_status())


@router.post("/circuit-breaker/reset", response_model=BreakerStatus, dependencies=[Depends(require_token)],
             responses={401: {"model": ErrorBody, "description": "missing or wrong bearer token"}},
             summary="Close the LLM circuit breaker now (bearer token)")
async def reset_circuit_breaker(request: Request) -> BreakerStatus:
    resources = request.app.state.resources
    before = resources.breaker_status()
    after = breakers.reset(resources.llm_endpoint)
    log.info("circuit_breaker_reset", endpoint=after["endpoint"], was=before["state"],
             failures_before=before["failures"])
    return BreakerStatus.model_validate(after)
