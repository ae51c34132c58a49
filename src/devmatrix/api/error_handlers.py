"""Every error leaves the API as JSON (ErrorBody): what failed, the fix, the request id.

Unknown routes, wrong methods, bad bodies, missing tokens, services that are
down and unexpected crashes all answer in the same shape, never as HTML or
plain text, and never echo a credential.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from devmatrix.api.schemas import ErrorBody, FieldProblem
from devmatrix.errors import DevMatrixError, ServiceBusy, ServiceError

log = structlog.get_logger("devmatrix.api")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "body_too_large", 415: "unsupported_media_type",
          422: "validation_failed", 429: "too_many_requests", 500: "internal_error",
          502: "bad_gateway", 503: "service_unavailable"}
_FIXES = {
    404: "see the API's routes in /openapi.json or /docs",
    405: "see the allowed methods in the Allow header, or /docs",
}
_VALUE_PREVIEW_CHARS = 80


class APIError(StarletteHTTPException):
    """An HTTP error with a fix, raised by routes and dependencies."""

    def __init__(self, status_code: int, message: str, *, fix: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.fix = fix


def error_response(request: Request, status: int, message: str, *, fix: str | None = None,
                   fields: list[FieldProblem] | None = None, service: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=_CODES.get(status, f"http_{status}"), message=message, fix=fix,
                     service=service, request_id=getattr(request.state, "request_id", None),
                     fields=fields or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def _problem(error: dict) -> FieldProblem:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":  # loc is ("body", character position)
        position = loc[1] if len(loc) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        return FieldProblem(field="body", type="json_invalid",
                            message=f"the body is not valid JSON: {reason} at character {position}")
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if "input" in error and error.get("type") != "missing":
        preview = repr(error["input"])
        if len(preview) > _VALUE_PREVIEW_CHARS:
            preview = preview[:_VALUE_PREVIEW_CHARS] + "…"
        message = f"{message} (got {preview})"
    return FieldProblem(field=_field(loc) or "body", type=str(error.get("type", "invalid")), message=message)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [_problem(e) for e in exc.errors()]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return error_response(request, 422, f"invalid request: {summary}", fields=fields,
                          fix="send what the schema at /openapi.json describes (see /docs)")


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, with those of included routers (FastAPI wraps them in one entry each)."""
    for route in routes:
        yield route
        inner = getattr(route, "routes", None) or getattr(getattr(route, "original_router", None), "routes", None)
        if inner:
            yield from _routes(inner)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods = {method for route in _routes(request.app.routes) if getattr(route, "methods", None)
               and route.matches(request.scope)[0] != Match.NONE for method in route.methods}
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    headers = exc.headers
    if status == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    else:
        message = str(exc.detail)
    fix = getattr(exc, "fix", None) or _FIXES.get(status)
    return error_response(request, status, message, fix=fix, headers=headers)


def retry_after(exc: DevMatrixError) -> str | None:
    """The Retry-After of an error's answer: a busy service says when; an outage, 30 s."""
    if isinstance(exc, ServiceBusy):
        return str(exc.retry_after_s)
    return "30" if exc.http_status == 503 else None


async def _devmatrix(request: Request, exc: DevMatrixError) -> JSONResponse:
    status = exc.http_status
    after = retry_after(exc)
    headers = {"Retry-After": after} if after else None
    service = exc.service if isinstance(exc, ServiceError) else None
    if isinstance(exc, ServiceBusy):
        log.info("service_busy", path=request.url.path, service=service, error=exc.message)
    elif service:
        log.warning("service_unavailable", path=request.url.path, service=service, error=exc.message)
    elif status >= 500:  # a bug named by our own error (StatementRejected): logged as one
        log.error("internal_error", path=request.url.path, error_type=type(exc).__name__, error=exc.message)
    return error_response(request, status, exc.message, fix=exc.fix, service=service, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A crash: logged with its type (the log line is redacted); the client gets the request id."""
    log.error("unhandled_exception", path=request.url.path, error_type=type(exc).__name__, error=str(exc))
    # Starlette sends this response from its outermost middleware, outside the one that adds
    # X-Request-ID to every response: the id a user must report is set here
    request_id = getattr(request.state, "request_id", None)
    return error_response(request, 500, f"internal error ({type(exc).__name__})",
                          fix="this is a bug: report it with the request id; details are in the API's log",
                          headers={"X-Request-ID": request_id} if request_id else None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(DevMatrixError, _devmatrix)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
