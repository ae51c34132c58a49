"""Pure ASGI middleware: a request id, metrics and one log line per request; a body limit.

Pure ASGI (not BaseHTTPMiddleware) so the cost per request stays a few
microseconds and streaming bodies are never buffered. Metrics use the route
template (``/api/v1/generations/{log_id}``), never the raw path, so their
labels stay bounded whatever clients send.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence

import structlog
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devmatrix.api._constants import KNOWN_METHODS, REQUEST_ID_HEADER, REQUEST_ID_PATTERN, UNMATCHED_ROUTE
from devmatrix.api.error_handlers import APIError
from devmatrix.monitoring.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

log = structlog.get_logger("devmatrix.api")
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _request_id(scope: Scope) -> str:
    given = _header(scope, _REQUEST_ID_BYTES)
    if given:
        text = given.decode("latin-1")
        if _REQUEST_ID.match(text):
            return text
    return uuid.uuid4().hex


def route_label(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The matched route's template, or a fixed label: never the raw path.

    FastAPI puts its own routes in ``scope["route"]``; for the others (/openapi.json,
    /docs) and for requests refused before routing, ``routes`` are matched here.
    """
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return getattr(route, "path", UNMATCHED_ROUTE)
    return UNMATCHED_ROUTE


class ObservedRequests:
    """Give each request an id (X-Request-ID), count and time it, and log one line for it."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.routes = routes  # every route with its template, for labels when scope has none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app raises before answering
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_REQUEST_ID_BYTES, request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - start
                method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
                route = route_label(scope, self.routes)
                HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
                HTTP_REQUEST_DURATION.labels(method=method, route=route).observe(elapsed)
                # the raw path only when it matched a route: an unknown path is client text
                # (it may even be a pasted token), so it is neither logged nor a label
                path = scope["path"] if route != UNMATCHED_ROUTE else None
                (log.error if status >= 500 else log.info)(
                    "http_request", method=method, route=route, path=path, status=status,
                    duration_ms=round(elapsed * 1000, 3))


class BodySizeLimit:
    """Refuse a request body over ``max_bytes`` with 413, declared or streamed, before reading it all."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: str) -> APIError:
        return APIError(413, f"the request body is {size}; the limit is {self.max_bytes:,} bytes",
                        fix="send a smaller body (a generation request is at most 20,000 characters)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json_error(scope, send, self._too_large(f"{int(declared):,} bytes"))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # an HTTPException: FastAPI re-raises it from body parsing, the handlers answer 413
                    raise self._too_large(f"over {received:,} bytes (streamed)")
            return message

        await self.app(scope, limited_receive, send)


async def _send_json_error(scope: Scope, send: Send, error: APIError) -> None:
    """Answer before routing (no Request object yet), in the same ErrorBody shape as the handlers."""
    body = json.dumps({
        "error": "body_too_large", "message": error.detail, "fix": error.fix,
        "request_id": scope.get("state", {}).get("request_id"), "fields": [],
    }).encode()
    await send({"type": "http.response.start", "status": error.status_code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
