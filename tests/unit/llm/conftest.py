"""A Messages-API endpoint for the unit tier: a real HTTP server on loopback whose replies
the test scripts (a success, or an error status). The network failures it injects are
the test's; the client and the breaker are what is tested."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from _fixtures.http_server import http_server

# One streamed reply, "OK", as the Messages API sends it (server-sent events).
_EVENTS = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_unit", "type": "message", "role": "assistant", "model": "unit", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "OK"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 1}}),
    ("message_stop", {"type": "message_stop"}),
]
SUCCESS_BODY = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in _EVENTS).encode()


@dataclass
class MessagesServer:
    url: str
    status: int = 200  # what the next requests get: 200 = the streamed "OK"
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's, in order


@pytest.fixture
def messages_server() -> Iterator[MessagesServer]:
    server_state: MessagesServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server_state.requests.append(self.path)
            server_state.headers.append({name.lower(): value for name, value in self.headers.items()})
            if server_state.status == 200:
                body, kind = SUCCESS_BODY, "text/event-stream"
            else:
                body = json.dumps({"type": "error", "error": {"type": "scripted_error",
                                                              "message": f"scripted {server_state.status}"}}).encode()
                kind = "application/json"
            self.send_response(server_state.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:  # keep the test output clean
            pass

    with http_server(Handler) as port:
        server_state = MessagesServer(url=f"http://127.0.0.1:{port}")
        yield server_state
