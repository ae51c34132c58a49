"""create_app(settings): the DevMatrix HTTP API (FastAPI), served by uvicorn as the service `api`.

| route                                     | what                                         |
| GET  /api/v1/health/live                  | the process answers                          |
| GET  /api/v1/health/ready                 | Postgres, Redis, Chroma, LLM; 503 names what failed |
| GET  /api/v1/health/circuit-breaker       | LLM breaker: state, failures, opened_at      |
| POST /api/v1/health/circuit-breaker/reset | close the breaker (bearer token)             |
| GET  /api/v1/metrics/prometheus           | the one metrics registry                     |
| POST /api/v1/generate                     | a job on the workers, waited for (bearer token); 429 when busy |
| POST /api/v1/jobs                         | queue a generation for the workers: 202 + Location |
| GET/DELETE /api/v1/jobs/{job_id}          | a job's status, worker, attempts, result / cancel it |
| GET  /api/v1/generations/{log_id}         | a row of code_generation_logs                |
| GET  /openapi.json, /docs                 | the schema; Swagger UI from a packaged copy (offline) |
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from devmatrix import __version__
from devmatrix.api import error_handlers
from devmatrix.api._constants import MAX_BODY_BYTES
from devmatrix.api.middleware import BodySizeLimit, ObservedRequests
from devmatrix.api.resources import Resources
from devmatrix.api.routes import docs, generate, health, jobs, metrics
from devmatrix.config import Settings


def create_app(settings: Settings, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The app for these settings; nothing connects until a route needs it."""
    resources = Resources(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        resources.close()

    app = FastAPI(
        title="DevMatrix Local API", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # /docs is served offline by routes/docs.py
        description="Code generation with an LLM into git workspaces, logged in Postgres; health and"
                    " metrics of the stack. Routes that spend or change state need"
                    " `Authorization: Bearer <API_TOKEN>`.",
    )
    app.state.settings = settings
    app.state.resources = resources
    error_handlers.install(app)
    docs.install(app)
    for module in (health, metrics, generate, jobs):
        app.include_router(module.router)  # each router carries its full /api/v1/... prefix
    # the last added is the outermost: every request, even a refused body, is counted and logged
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    templates = [r for r in app.routes if isinstance(getattr(r, "path", None), str)]
    templates += [r for module in (health, metrics, generate, jobs) for r in module.router.routes]
    app.add_middleware(ObservedRequests, routes=templates)
    return app
