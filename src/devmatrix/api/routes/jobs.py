"""Jobs over HTTP: POST /jobs (202 + Location), GET /jobs/{job_id}, DELETE /jobs/{job_id}.

The body of POST /jobs is POST /generate's; the generation runs on a Celery worker and its
state is the job's row in Postgres (devmatrix.jobs), never Celery's result backend.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from devmatrix.api._constants import API_PREFIX
from devmatrix.api.auth import require_token
from devmatrix.api.error_handlers import APIError
from devmatrix.api.schemas import ErrorBody, GenerateRequest, JobAccepted, JobView

router = APIRouter(prefix=API_PREFIX, tags=["jobs"], dependencies=[Depends(require_token)])
JOB_ID = Annotated[uuid.UUID, Path(description="the job's id (a UUID)")]
_ERRORS = {401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
           422: {"model": ErrorBody, "description": "the body or the job id is invalid (the field is named)"},
           503: {"model": ErrorBody, "description": "Postgres or the broker (Redis) is down"}}


def _missing(job_id: str) -> APIError:
    return APIError(404, f"no job with id {job_id}", fix="use the job_id returned by POST /api/v1/jobs")


@router.post("/jobs", status_code=202, response_model=JobAccepted,
             responses={400: {"model": ErrorBody, "description": "the body could not be read (not UTF-8)"},
                        413: {"model": ErrorBody, "description": "the body is over the limit"}, **_ERRORS},
             summary="Queue a generation for the workers; poll the Location for its result")
async def submit(body: GenerateRequest, request: Request, response: Response) -> JobAccepted:
    jobs = request.app.state.resources.jobs()
    job = await run_in_threadpool(jobs.submit, body.model_dump(), caller="api")
    response.headers["Location"] = f"{API_PREFIX}/jobs/{job.job_id}"
    return JobAccepted(job_id=job.job_id, status=job.status)


@router.get("/jobs/{job_id}", response_model=JobView,
            responses={404: {"model": ErrorBody, "description": "no job has this id"}, **_ERRORS},
            summary="One job: status, worker, attempts, and the generation result once finished")
def get_job(job_id: JOB_ID, request: Request) -> JobView:
    job = request.app.state.resources.jobs().store.get(str(job_id))
    if job is None:
        raise _missing(job_id)
    return JobView.of(job)


@router.delete("/jobs/{job_id}", response_model=JobView,
               responses={404: {"model": ErrorBody, "description": "no job has this id"}, **_ERRORS},
               summary="Cancel a queued or running job (a finished one is left as it is)")
def cancel_job(job_id: JOB_ID, request: Request) -> JobView:
    job = request.app.state.resources.jobs().cancel(str(job_id))
    if job is None:
        raise _missing(job_id)
    return JobView.of(job)
