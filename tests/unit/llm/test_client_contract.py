"""The LLM client's failure contract: deadlines, the one retry window, errors as ServiceError."""

from __future__ import annotations

import threading
import time

import anthropic
import httpx2
import pytest

from devmatrix.config import Settings
from devmatrix.errors import CircuitOpen, LLMError, ServiceError
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import BREAKER_FAIL_MAX
from devmatrix.llm.client import _transient

pytestmark = pytest.mark.unit


def _client(port: int, **settings: object) -> AnthropicClient:
    return AnthropicClient(settings=Settings(**settings), enable_cache=False, enable_circuit_breaker=False,
                           base_url=f"http://127.0.0.1:{port}")


def test_a_frozen_backend_ends_at_the_call_deadline_without_a_retry(silent_port):
    client = _client(silent_port)
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        client.complete("hi", max_tokens=5, deadline_s=1.0)
    # the 1 s deadline + 3 s of slack for a busy machine: not the 10 s idle timeout, not once per retry
    assert time.monotonic() - start < 1.0 + 3.0
    assert caught.value.service == "llm" and "went silent" in caught.value.message
    assert "infra.restart -s llm" in caught.value.fix


def test_a_refused_connection_is_retried_for_the_window_then_named(closed_port):
    client = _client(closed_port, llm_retry_window_s=1.5)
    start = time.monotonic()
    with pytest.raises(ServiceError, match=r"cannot reach the local backend .* \(retried for 1.5 s\)"):
        client.complete("hi", max_tokens=5)
    # retried for the 1.5 s window (the back-off never sleeps past it), then named: not the 12 s default
    assert 1.0 <= time.monotonic() - start < 1.5 + 3.0


def test_the_retry_window_opens_at_the_first_failure_not_at_the_call(closed_port):
    """An attempt that ran longer than the window (a long reply, or this process frozen by
    SIGSTOP mid-call) and then lost its connection still gets its retries (issue 22)."""
    client = _client(closed_port, llm_retry_window_s=0.5)
    attempts: list[float] = []

    def attempt(deadline: float, request: dict) -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            time.sleep(0.8)  # longer than the whole window, before anything failed
            raise httpx2.RemoteProtocolError("peer closed connection")  # the server restarted
        return "reply"

    assert client._with_retries(attempt, time.monotonic() + 30, {}) == "reply"
    assert len(attempts) == 2


def test_the_retry_window_never_outlives_the_call_deadline(closed_port):
    client = _client(closed_port, llm_retry_window_s=60)
    start = time.monotonic()
    with pytest.raises(ServiceError, match="cannot reach"):
        client.complete("hi", max_tokens=5, deadline_s=1.0)
    assert time.monotonic() - start < 1.0 + 3.0  # the 1 s deadline + slack: never the 60 s window


def test_no_retry_window_fails_at_once(closed_port):
    client = _client(closed_port, llm_retry_window_s=0)
    start = time.monotonic()
    with pytest.raises(ServiceError, match="cannot reach"):
        client.complete("hi", max_tokens=5)
    assert time.monotonic() - start < 3.0  # one refused connect (ms) + slack: not the 12 s default window


def test_a_stream_that_cannot_connect_is_the_same_service_error(closed_port):
    client = _client(closed_port, llm_retry_window_s=0)
    with pytest.raises(ServiceError, match="llm: cannot reach the local backend"):
        list(client.stream("hi", max_tokens=5))


@pytest.mark.parametrize(("error", "retried"), [
    (httpx2.ConnectError("refused"), True),
    (httpx2.RemoteProtocolError("peer closed connection"), True),  # the server died mid-reply
    (httpx2.ReadTimeout("silent"), False),  # frozen: retrying only doubles the wait
])
def test_what_the_one_retry_layer_retries(error, retried):
    assert _transient(error) is retried


@pytest.mark.parametrize(("status", "retried"), [(429, True), (500, True), (529, True), (408, True),
                                                 (400, False), (401, False), (404, False)])
def test_status_codes_the_retry_layer_retries(status, retried):
    response = httpx2.Response(status, request=httpx2.Request("POST", "http://x/v1/messages"))
    error = anthropic.APIStatusError("x", response=response, body=None)
    assert _transient(error) is retried


def test_the_breaker_lets_concurrent_calls_run_together():
    # pybreaker's call() holds its lock for the whole call; the client must not serialise
    client = AnthropicClient(settings=Settings(), enable_cache=False, base_url="http://127.0.0.1:9")
    both_inside = threading.Barrier(2, timeout=5)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with client._breaker_guard():
                both_inside.wait()  # breaks (BrokenBarrierError) if the other is kept out
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []


def test_circuit_open_is_a_service_error_of_the_llm():
    error = CircuitOpen("open", fix="wait")
    assert isinstance(error, ServiceError) and isinstance(error, LLMError)
    assert error.service == "llm" and error.exit_code == 3 and str(error) == "llm: open — fix: wait"


# --- stream(): the SDK sends the request when the stream is entered ----------------------
def _streaming_client(url: str) -> AnthropicClient:
    return AnthropicClient(settings=Settings(), enable_cache=False, base_url=url)


def test_streams_that_cannot_connect_are_service_errors_the_breaker_counts(closed_port):
    client = _streaming_client(f"http://127.0.0.1:{closed_port}")
    for count in range(1, BREAKER_FAIL_MAX):
        with pytest.raises(ServiceError, match="llm: cannot reach the local backend"):
            list(client.stream("hi", max_tokens=5))
        assert client.breaker_status()["failures"] == count
    with pytest.raises(ServiceError, match="cannot reach"):  # the one that trips it
        list(client.stream("hi", max_tokens=5))
    assert client.breaker_status()["state"] == "open"
    with pytest.raises(CircuitOpen, match="was not sent"):
        list(client.stream("hi", max_tokens=5))


@pytest.mark.parametrize(("status", "message"), [(401, "rejected the API key"), (404, "answered 404")])
def test_a_stream_the_endpoint_refuses_is_an_llm_error_not_a_breaker_failure(messages_server, status, message):
    client = _streaming_client(messages_server.url)
    messages_server.status = status
    with pytest.raises(LLMError, match=message) as caught:
        list(client.stream("hi", max_tokens=5))
    assert not isinstance(caught.value, ServiceError)
    assert messages_server.requests == ["/v1/messages"]
    assert client.breaker_status()["failures"] == 0


def test_a_stream_the_consumer_stops_early_is_not_a_failure(messages_server):
    client = _streaming_client(messages_server.url)
    stream = client.stream("hi", max_tokens=5)
    assert next(stream) == "OK"
    stream.close()
    status = client.breaker_status()
    assert (status["state"], status["failures"]) == ("closed", 0)
@pytest.mark.parametrize(("reply", "ok"), [("4", True), ("2 + 2 = 4", True), ("The answer is 4.", True),
                                           ("I'm sorry for any misunderstanding", False), ("42", False),
                                           ("5", False), ("", False)])
def test_the_backend_check_verifies_the_answer_not_just_that_a_reply_came(monkeypatch, reply, ok):
    from devmatrix.llm import client as client_module
    from devmatrix.llm.client import LLMResult, check_backend

    def scripted(self, messages, **_):  # plays the model: the reply is what is under test
        assert messages == client_module.CHECK_PROMPT
        return LLMResult(reply, "scripted", "anthropic", 20, 3, 0.000043, 0.2, False, "end_turn")

    monkeypatch.setattr(client_module.AnthropicClient, "complete", scripted)
    settings = Settings(llm_backend="anthropic", anthropic_api_key="sk-ant-unit")
    if ok:
        detail = check_backend(settings)
    else:
        with pytest.raises(LLMError) as caught:
            check_backend(settings)
        detail = caught.value.message
        assert "not the answer 4" in detail and "ANTHROPIC_MODEL" in caught.value.fix  # the fix kept apart
    assert f"replied {reply!r}" in detail and "$0.000043" in detail
