"""The circuit breaker on a real loopback endpoint: what trips it, what does not, and its
half-open trial. Only the clock is faked (the reset timeout is 30 s)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devmatrix.config import Settings
from devmatrix.errors import CircuitOpen, LLMError, ServiceError
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import BREAKER_FAIL_MAX

pytestmark = pytest.mark.unit


def _client(url: str) -> AnthropicClient:
    return AnthropicClient(settings=Settings(), enable_cache=False, enable_retry=False, base_url=url)


def _open(client: AnthropicClient, server) -> None:
    """Trip the breaker with 5xx replies, then check that it refuses without sending."""
    server.status = 503
    for _ in range(BREAKER_FAIL_MAX):  # the last one trips it: it was sent, so it says why it failed
        with pytest.raises(ServiceError, match=r"answered 503: .*scripted 503"):
            client.complete("hi", max_tokens=5)
    sent = len(server.requests)
    with pytest.raises(CircuitOpen, match="was not sent"):
        client.complete("hi", max_tokens=5)
    assert len(server.requests) == sent and client.breaker_status()["state"] == "open"


def _reset_timeout_passes(client: AnthropicClient) -> None:
    """Fake time: the breaker opened longer ago than its reset timeout."""
    storage = client._breaker._state_storage
    storage.opened_at -= timedelta(seconds=client._breaker.reset_timeout + 1)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_requests_the_endpoint_refuses_4xx_never_trip_the_breaker(messages_server, status):
    client = _client(messages_server.url)
    messages_server.status = status
    for _ in range(BREAKER_FAIL_MAX + 2):
        with pytest.raises(LLMError) as caught:
            client.complete("hi", max_tokens=5)
        assert not isinstance(caught.value, ServiceError)  # the request, not the endpoint
    assert len(messages_server.requests) == BREAKER_FAIL_MAX + 2  # every one was sent
    status_now = client.breaker_status()
    assert status_now["state"] == "closed" and status_now["failures"] == 0


def test_a_successful_half_open_trial_closes_the_breaker(messages_server):
    client = _client(messages_server.url)
    _open(client, messages_server)
    _reset_timeout_passes(client)
    messages_server.status = 200
    sent = len(messages_server.requests)
    assert client.complete("hi", max_tokens=5).text == "OK"  # the trial is sent
    assert len(messages_server.requests) == sent + 1
    status = client.breaker_status()
    assert status["state"] == "closed" and status["failures"] == 0 and status["opened_at"] is None


def test_a_failed_half_open_trial_opens_it_again_for_another_timeout(messages_server):
    client = _client(messages_server.url)
    _open(client, messages_server)
    first_opened = client.breaker_status()["opened_at"]
    _reset_timeout_passes(client)
    sent = len(messages_server.requests)
    with pytest.raises(ServiceError, match="answered 503"):
        client.complete("hi", max_tokens=5)  # the trial: sent, and fails
    assert len(messages_server.requests) == sent + 1
    status = client.breaker_status()
    assert status["state"] == "open" and status["opened_at"] > first_opened
    with pytest.raises(CircuitOpen, match="was not sent"):
        client.complete("hi", max_tokens=5)
    assert len(messages_server.requests) == sent + 1
