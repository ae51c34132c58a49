"""What complete() and stream() send and what they make of the reply: the request body (model,
system, max_tokens, the local server's temperature), and the LLMResult's text, tokens (the
prompt cache's included), backend, stop reason. The endpoint is a real HTTP server on loopback
that records each request body and answers with a scripted stream (no cache, no Redis: the
local backend's calls are free, so nothing is reserved)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from _fixtures.http_server import http_server
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm import AnthropicClient
from devmatrix.llm.client import create_llm_client
from devmatrix.monitoring.metrics import REGISTRY

pytestmark = pytest.mark.unit

USAGE = {"input_tokens": 7, "output_tokens": 0, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 1000}


def _block(index: int, texts: list[str]) -> list[tuple[str, dict]]:
    return [("content_block_start", {"type": "content_block_start", "index": index,
                                     "content_block": {"type": "text", "text": ""}}),
            *[("content_block_delta", {"type": "content_block_delta", "index": index,
                                       "delta": {"type": "text_delta", "text": text}}) for text in texts],
            ("content_block_stop", {"type": "content_block_stop", "index": index})]


def _events(blocks: list[list[str]], usage: dict) -> bytes:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_reply", "type": "message", "role": "assistant", "model": "unit", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}}),
        *[event for index, texts in enumerate(blocks) for event in _block(index, texts)],
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                           "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.blocks = [["def add(a, b):", "\n    return a + b"], ["\n"]]  # a reply can have several text blocks
        self.usage = dict(USAGE)


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recorder.bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            body = _events(recorder.blocks, recorder.usage)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with http_server(Handler) as port:
        yield f"http://127.0.0.1:{port}", recorder


def _client(url: str, **overrides: object) -> AnthropicClient:
    return AnthropicClient(settings=Settings(), enable_cache=False, base_url=url, **overrides)


def test_a_reply_is_the_whole_text_with_every_prompt_token_counted(endpoint):
    url, recorder = endpoint
    result = _client(url).complete("add two numbers", system="You write Python.", max_tokens=64)
    assert result.text == "def add(a, b):\n    return a + b\n"  # every block, nothing between them
    # the prompt cache's reads and writes are prompt tokens too: 7 + 100 + 1000
    assert (result.input_tokens, result.output_tokens) == (1107, 9)
    assert (result.backend, result.cache_hit, result.stop_reason) == ("local", False, "max_tokens")
    assert result.model == recorder.bodies[0]["model"]


def test_a_reply_without_prompt_cache_fields_counts_the_input_tokens_only(endpoint):
    url, recorder = endpoint
    recorder.usage = {"input_tokens": 7, "output_tokens": 0}
    assert _client(url).complete("hi").input_tokens == 7


def test_the_request_carries_the_system_prompt_max_tokens_and_the_local_temperature(endpoint):
    url, recorder = endpoint
    _client(url).complete([{"role": "user", "content": "hi"}], system="Be brief.", max_tokens=33, temperature=0.25)
    body = recorder.bodies[0]
    assert body["system"] == "Be brief." and body["max_tokens"] == 33 and body["temperature"] == 0.25
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_no_system_prompt_sends_no_system_field(endpoint):
    url, recorder = endpoint
    _client(url).complete("hi")
    assert "system" not in recorder.bodies[0]
    assert recorder.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]  # a string is one user turn


def test_stream_yields_the_text_in_order_and_sends_the_same_request(endpoint):
    url, recorder = endpoint
    chunks = list(_client(url).stream("add", system="You write Python.", max_tokens=12, temperature=0.5))
    assert chunks == ["def add(a, b):", "\n    return a + b", "\n"]
    body = recorder.bodies[0]
    assert (body["system"], body["max_tokens"], body["temperature"]) == ("You write Python.", 12, 0.5)


def test_create_llm_client_passes_its_overrides_on(endpoint):
    url, _ = endpoint
    client = create_llm_client(Settings(), base_url=url, enable_retry=False, enable_cache=False, model="unit-model")
    assert (client.base_url, client.enable_retry, client.model) == (url, False, "unit-model")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_call_is_counted_by_outcome_with_its_tokens(endpoint, closed_port):
    url, _ = endpoint
    client = _client(url)
    labels = {"model": client.model, "backend": "local"}
    ok, tokens_in = _sample("llm_requests_total", **labels, outcome="success"), \
        _sample("llm_tokens_total", **labels, direction="input")
    client.complete("hi")
    assert _sample("llm_requests_total", **labels, outcome="success") == ok + 1
    assert _sample("llm_tokens_total", **labels, direction="input") == tokens_in + 1107
    failed = _sample("llm_requests_total", **labels, outcome="error")
    dead = _client(f"http://127.0.0.1:{closed_port}", enable_retry=False)
    with pytest.raises(ServiceError):
        dead.complete("hi")
    assert _sample("llm_requests_total", **labels, outcome="error") == failed + 1
