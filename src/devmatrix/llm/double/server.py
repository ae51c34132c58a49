"""A Messages-API double: a real HTTP server that answers as the paid API does.

`POST /v1/messages` (JSON, or server-sent events with ``"stream": true``: message_start,
content_block_start, ping, content_block_delta…, content_block_stop, message_delta with
the stop reason and usage, message_stop), `POST /v1/messages/count_tokens`, `GET
/v1/models`. Like the API it checks the key (``x-api-key`` or a bearer token; 401 authentication_error), the
``anthropic-version`` header and the body (400 invalid_request_error), and the model (404
not_found_error for a model it does not serve; an alias is reported as its dated id);
it counts tokens, cuts a reply at ``max_tokens`` (stop_reason max_tokens) or at a stop
sequence. What it says comes from script.py.

For tests and benchmarks: ``latency_s`` holds every reply that long before its first
byte (a sleeping thread, no CPU: a remote API's latency); ``script_faults`` (or `POST
/_double/faults` with ``{"faults": [{"status": 429, "retry_after": 1}]}``) makes the next
requests fail in order, 429 rate_limit_error and 529 overloaded_error with a
``retry-after`` header; `GET /_double/stats` counts what it answered.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devmatrix.llm.double.script import Unscripted, reply, text_of
from devmatrix.llm.pricing import PRICES

# Accepted unless another key is given: a key's shape, never sent anywhere.
DEFAULT_API_KEY = "sk-ant-dummy"  # pragma: allowlist secret
# The API's tokenizer reads English and code at about 3.5 characters a token; each message
# and the system prompt cost a few tokens of framing.
CHARS_PER_TOKEN = 3.5
MESSAGE_OVERHEAD_TOKENS = 4
DELTA_CHARS = 48  # text per content_block_delta event
# A client silent this long (mid-request, or an idle keep-alive connection) is dropped, so a
# stuck client never holds a server thread for good; above the SDK's own idle read deadline.
CLIENT_TIMEOUT_S = 120.0
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}


def served_models() -> dict[str, str]:
    """Every model id the double serves → the id it reports (an alias → its dated id). The
    price table's models: a model the double serves always has a price."""
    return {name: next((dated for dated in PRICES if dated.startswith(f"{name}-20")), name) for name in PRICES}


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def system_text(body: dict) -> str:
    """The system prompt: a string, or text blocks."""
    system = body.get("system")
    return text_of(system) if isinstance(system, list) else str(system or "")


def input_tokens(body: dict) -> int:
    messages = body.get("messages") or []
    return (tokens(system_text(body)) + MESSAGE_OVERHEAD_TOKENS
            + sum(tokens(text_of(m.get("content"))) + MESSAGE_OVERHEAD_TOKENS for m in messages))


@dataclass(frozen=True)
class Fault:
    """One scripted failure: the status (429, 529, 500…) and its retry-after seconds."""

    status: int
    retry_after: int | None = None


class _ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class MessagesDouble:
    """The double on ``host:port`` (0: a free port), served from a thread; a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = DEFAULT_API_KEY,
                 latency_s: float = 0.0) -> None:
        self.api_key = api_key
        self.latency_s = latency_s
        self.models = served_models()
        self.stats: Counter[str] = Counter()
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}"

    def start(self) -> MessagesDouble:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="messages-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MessagesDouble:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def script_faults(self, *faults: Fault) -> None:
        """The next len(faults) requests to /v1/messages fail with these, in order."""
        with self._lock:
            self._faults.extend(faults)

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def count(self, outcome: str) -> None:
        with self._lock:
            self.stats[outcome] += 1

    def next_id(self, kind: str) -> str:
        return f"{kind}_double_{next(self._ids):08x}"

    # --- the Messages API ---------------------------------------------------------
    def authenticate(self, headers) -> None:
        """The key, from ``x-api-key`` or ``Authorization: Bearer`` (the SDK 2.x sends the latter)."""
        bearer = headers.get("authorization") or ""
        key = headers.get("x-api-key") or (bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None)
        if key != self.api_key:
            raise _ApiError(401, "invalid x-api-key")

    def check(self, headers, body: dict, *, counting: bool = False) -> str:
        """Authenticate and validate a request as the API does; the model id to report."""
        self.authenticate(headers)
        if not headers.get("anthropic-version"):
            raise _ApiError(400, "anthropic-version: header is required")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _ApiError(400, "model: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _ApiError(400, "messages: at least one message is required")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _ApiError(400, f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if messages[0].get("role") != "user":
            raise _ApiError(400, "messages: the first message must use the \"user\" role")
        if not counting:
            max_tokens = body.get("max_tokens")
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
                raise _ApiError(400, "max_tokens: Field required (an integer >= 1)")
        if model not in self.models:
            raise _ApiError(404, f"model: {model}")
        return self.models[model]

    def message(self, body: dict, model: str) -> dict:
        """The reply as a Message object (the non-streaming shape)."""
        try:
            text = reply(system_text(body), body["messages"])
        except Unscripted as error:
            raise _ApiError(400, f"messages-api double: {error}") from None
        stop_reason, stop_sequence = "end_turn", None
        for sequence in body.get("stop_sequences") or []:
            if sequence and sequence in text:
                text, stop_reason, stop_sequence = text[: text.index(sequence)], "stop_sequence", sequence
                break
        limit = body["max_tokens"]
        if tokens(text) > limit:
            text, stop_reason, stop_sequence = text[: int(limit * CHARS_PER_TOKEN)], "max_tokens", None
        return {"id": self.next_id("msg"), "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": stop_reason,
                "stop_sequence": stop_sequence,
                "usage": {"input_tokens": input_tokens(body), "output_tokens": max(1, tokens(text)),
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}


def stream_events(message: dict) -> list[tuple[str, dict]]:
    """The server-sent events of ``message``, in the API's order."""
    text = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": text[i:i + DELTA_CHARS]}})
               for i in range(0, len(text), DELTA_CHARS)]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": message["stop_reason"],
                                     "stop_sequence": message["stop_sequence"]},
                           "usage": {"output_tokens": usage["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _handler(double: MessagesDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
        server_version = "messages-api-double"
        timeout = CLIENT_TIMEOUT_S

        def log_message(self, *_args: object) -> None:  # one line per request is noise in test output
            pass

        def do_GET(self) -> None:
            if self.path == "/_double/stats":
                self._json(200, dict(double.stats))
            elif self.path.split("?")[0] == "/v1/models":
                self._guarded(lambda: self._json(200, self._models()))
            else:
                self._error(_ApiError(404, f"not found: GET {self.path}"))

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            if path == "/v1/messages":
                self._guarded(self._messages)
            elif path == "/v1/messages/count_tokens":
                self._guarded(self._count_tokens)
            elif path == "/_double/faults":
                body = self._body()
                double.script_faults(*(Fault(int(f["status"]), f.get("retry_after")) for f in body["faults"]))
                self._json(200, {"scripted": len(body["faults"])})
            else:
                self._body()
                self._error(_ApiError(404, f"not found: POST {self.path}"))

        # --- routes ---------------------------------------------------------------
        def _models(self) -> dict:
            double.authenticate(self.headers)
            data = [{"type": "model", "id": reported, "display_name": reported, "created_at": "2025-01-01T00:00:00Z"}
                    for reported in sorted(set(double.models.values()))]
            return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}

        def _messages(self) -> None:
            body = self._body()
            model = double.check(self.headers, body)
            fault = double.next_fault()
            if fault is not None:
                raise _ApiError(fault.status, f"scripted {fault.status} ({ERROR_TYPES.get(fault.status, 'error')})",
                                fault.retry_after)
            message = double.message(body, model)
            if double.latency_s:
                time.sleep(double.latency_s)  # a remote API's latency: a sleeping thread, no CPU
            if body.get("stream"):
                self._stream(message)
            else:
                self._json(200, message)
            double.count(message["stop_reason"])

        def _count_tokens(self) -> None:
            body = self._body()
            double.check(self.headers, body, counting=True)
            self._json(200, {"input_tokens": input_tokens(body)})

        # --- plumbing -------------------------------------------------------------
        def _guarded(self, route) -> None:
            try:
                route()
            except _ApiError as error:
                self._error(error)

        def _body(self) -> dict:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise _ApiError(400, "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise _ApiError(400, "the request body must be a JSON object")
            return body

        def _error(self, error: _ApiError) -> None:
            kind = ERROR_TYPES.get(error.status, "api_error")
            double.count(str(error.status))
            headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else {}
            self._json(error.status, {"type": "error", "error": {"type": kind, "message": error.message},
                                      "request_id": double.next_id("req")}, headers)

        def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", double.next_id("req"))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, message: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("request-id", double.next_id("req"))
            self.end_headers()
            for name, data in stream_events(message):
                chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return Handler
