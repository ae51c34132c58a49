"""AnthropicClient against the real local Messages-API server (and real Redis for the cache)."""

from __future__ import annotations

import uuid

import pytest

from devmatrix.errors import LLMError, ServiceError
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import CACHE_TTL_S
from devmatrix.monitoring.metrics import LLM_REQUESTS

pytestmark = pytest.mark.integration


def test_a_call_returns_text_usage_and_a_zero_cost_for_the_local_backend(real_anthropic_client):
    result = real_anthropic_client.complete(f"Reply with: OK ({uuid.uuid4().hex[:6]})", max_tokens=16)
    assert result.backend == "local" and result.text.strip()
    assert result.input_tokens > 0 and result.output_tokens > 0
    assert result.cost_usd == 0.0 and not result.cache_hit


def test_the_same_request_gets_the_same_reply_without_a_cache(real_anthropic_client):
    prompt = "Name three animals."
    first, second = (real_anthropic_client.complete(prompt, max_tokens=24) for _ in range(2))
    assert not first.cache_hit and not second.cache_hit
    assert second.text == first.text and first.text.strip()


def test_the_second_identical_call_is_a_cache_hit(cached_client, real_redis_manager):
    prompt = f"Name a colour. ({uuid.uuid4().hex[:6]})"
    first = cached_client.complete(prompt, max_tokens=8)
    before = LLM_REQUESTS.labels(model=first.model, backend="local", outcome="cache_hit")._value.get()
    second = cached_client.complete(prompt, max_tokens=8)
    assert second.cache_hit and second.text == first.text
    assert second.cost_usd == 0.0
    # stored under the test prefix, so the fixture's cleanup removes it
    assert list(real_redis_manager.client.scan_iter(match="test:devmatrix:llm:response:*"))
    assert LLM_REQUESTS.labels(model=first.model, backend="local",
                               outcome="cache_hit")._value.get() == before + 1


def test_another_request_is_never_answered_from_the_cache(cached_client):
    """The cache key holds the messages: a second prompt goes to the model, not to the first's reply."""
    tag = uuid.uuid4().hex[:6]
    first = cached_client.complete(f"Name a colour. ({tag})", max_tokens=8)
    second = cached_client.complete(f"Name an animal. ({tag})", max_tokens=8)
    assert not first.cache_hit and not second.cache_hit


def test_a_cached_reply_expires(cached_client, real_redis_manager):
    """Every cached reply is stored with a TTL (a day), so the cache never grows without end."""
    cached_client.complete(f"Name a fruit. ({uuid.uuid4().hex[:6]})", max_tokens=8)
    keys = list(real_redis_manager.client.scan_iter(match="test:devmatrix:llm:response:*"))
    assert keys
    assert all(0 < real_redis_manager.client.ttl(key) <= CACHE_TTL_S for key in keys)


def test_streaming_yields_the_reply_in_pieces(settings):
    with AnthropicClient(settings=settings, enable_cache=False) as client:
        pieces = list(client.stream("Count from 1 to 5.", max_tokens=24))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_a_wrong_key_is_a_clear_error(settings):
    wrong = "wrong-key"  # pragma: allowlist secret
    with (AnthropicClient(settings=settings, api_key=wrong, enable_cache=False) as client,
          pytest.raises(LLMError, match="rejected the API key")):
        client.complete("hi", max_tokens=4)


# (The breaker's state after failures, its half-open trial and what does not trip it are in
# tests/unit/llm/test_breaker.py.)
@pytest.mark.parametrize(("overrides", "error"), [
    ({"api_key": "wrong-key"}, "rejected the API key"),  # pragma: allowlist secret
    ({"base_url_path": "/no/such/path"}, "answered 404"),
])
def test_a_stream_the_server_refuses_is_an_llm_error_the_breaker_does_not_count(settings, overrides, error):
    path = overrides.pop("base_url_path", "")
    with AnthropicClient(settings=settings, enable_cache=False, base_url=settings.llm_base_url + path,
                         **overrides) as client:
        with pytest.raises(LLMError, match=error) as caught:
            list(client.stream("hi", max_tokens=4))
        assert not isinstance(caught.value, ServiceError)  # the request, not a dead server
        assert client.breaker_status()["failures"] == 0
