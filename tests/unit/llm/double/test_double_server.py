"""The double speaks the Messages API as the paid API does, to the official SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import anthropic
import pytest
import requests

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient
from devmatrix.llm.double import DEFAULT_API_KEY, Fault, MessagesDouble, served_models
from devmatrix.llm.double.script import find_case
from devmatrix.llm.pricing import PRICES

pytestmark = pytest.mark.unit
MODEL = "claude-haiku-5-5"
FIBONACCI = [{"role": "user", "content": "Create a fibonacci function with memoization"}]


def test_a_stream_sends_the_apis_events_in_order_with_usage(sdk):
    events = list(sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI, stream=True))
    kinds = [e.type for e in events]
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * len(deltas),
                     "content_block_stop", "message_delta", "message_stop"] and len(deltas) > 1
    text = "".join(d.delta.text for d in deltas)
    assert text == f"```python\n{find_case('fibonacci').code}```"
    assert events[0].message.usage.input_tokens > 0
    final = events[-2]
    assert final.delta.stop_reason == "end_turn" and final.usage.output_tokens == pytest.approx(len(text) / 3.5, abs=1)


def test_on_the_wire_a_stream_is_server_sent_events_with_a_ping(double):
    """What the SDK hides: the event lines themselves (the API sends a ping after the block starts)."""
    body = {"model": MODEL, "max_tokens": 512, "messages": FIBONACCI, "stream": True}
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    with requests.post(f"{double.url}/v1/messages", json=body, headers=headers, stream=True, timeout=5) as answer:
        assert answer.headers["content-type"] == "text/event-stream"
        names = [line.split(":", 1)[1].strip() for line in answer.iter_lines(decode_unicode=True)
                 if line.startswith("event:")]
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-1] == "message_stop"


def test_the_sdks_stream_helper_reads_the_same_message(sdk):
    with sdk.messages.stream(model=MODEL, max_tokens=512, messages=FIBONACCI) as stream:
        streamed = stream.get_final_message()
    created = sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI)
    assert streamed.content[0].text == created.content[0].text
    assert streamed.usage.input_tokens == created.usage.input_tokens
    assert streamed.usage.output_tokens == created.usage.output_tokens
    assert streamed.stop_reason == created.stop_reason == "end_turn"


def test_count_tokens_agrees_with_the_usage_of_the_reply(sdk):
    counted = sdk.messages.count_tokens(model=MODEL, messages=FIBONACCI, system="be brief")
    used = sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI, system="be brief").usage
    assert counted.input_tokens == used.input_tokens > 0


def test_a_reply_longer_than_max_tokens_is_cut_with_stop_reason_max_tokens(sdk):
    message = sdk.messages.create(model=MODEL, max_tokens=10, messages=FIBONACCI)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens <= 10
    assert find_case("fibonacci").code.startswith(message.content[0].text.removeprefix("```python\n"))


def test_a_stop_sequence_ends_the_reply(sdk):
    message = sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI, stop_sequences=["def "])
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "def ")
    assert "def " not in message.content[0].text


def test_a_wrong_key_is_401_authentication_error(double):
    wrong = "sk-ant-wrong"  # pragma: allowlist secret
    with anthropic.Anthropic(api_key=wrong, base_url=double.url, max_retries=0) as client, \
            pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model=MODEL, max_tokens=5, messages=FIBONACCI)
    assert caught.value.body["error"]["type"] == "authentication_error"


def test_an_unknown_model_is_404_not_found_error(sdk):
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk.messages.create(model="claude-nope-1", max_tokens=5, messages=FIBONACCI)
    assert caught.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nope-1"}


def test_an_alias_is_reported_as_its_dated_id_and_every_served_model_has_a_price(sdk):
    assert sdk.messages.create(model="claude-haiku-4-5", max_tokens=512, messages=FIBONACCI).model == \
        "claude-haiku-4-5-20251001"
    assert set(served_models()) | set(served_models().values()) <= set(PRICES)
    assert Settings().anthropic_model in served_models()  # the default model runs against the double


def test_429_says_when_to_retry_and_the_sdk_waits_for_it(double, sdk):
    double.script_faults(Fault(429, retry_after=1))
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    double.script_faults(Fault(429, retry_after=1))
    start = time.monotonic()
    reply = sdk.with_options(max_retries=1).messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI)
    assert time.monotonic() - start >= 1.0 and reply.stop_reason == "end_turn"
    assert double.stats["429"] == 2


def test_529_is_overloaded_error_with_retry_after(double, sdk):
    double.script_faults(Fault(529, retry_after=2))
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI)
    assert caught.value.status_code == 529 and caught.value.response.headers["retry-after"] == "2"
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_faults_can_be_scripted_over_http_from_another_process(double, sdk):
    answer = requests.post(f"{double.url}/_double/faults", json={"faults": [{"status": 529}]}, timeout=5)
    assert answer.json() == {"scripted": 1}
    with pytest.raises(anthropic.APIStatusError, match="529"):
        sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI)
    assert sdk.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI).stop_reason == "end_turn"


def test_the_clients_one_retry_layer_rides_out_429_then_529(double):
    double.script_faults(Fault(429, retry_after=0), Fault(529, retry_after=0))
    settings = Settings(llm_cache_enabled=False, llm_retry_window_s=10)
    # a URL other than ANTHROPIC_BASE_URL is priced as a local server: free, so no Redis ledger
    with AnthropicClient(api_key=DEFAULT_API_KEY, model=MODEL, enable_cache=False, base_url=double.url,
                         settings=settings) as client:
        result = client.complete(FIBONACCI, max_tokens=512)
    assert result.stop_reason == "end_turn" and result.output_tokens > 0
    assert (double.stats["429"], double.stats["529"], double.stats["end_turn"]) == (1, 1, 1)


def test_an_unscripted_request_is_a_400_that_says_so(sdk):
    with pytest.raises(anthropic.BadRequestError, match="no scripted answer"):
        sdk.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Write a poem"}])


def test_a_body_the_api_would_refuse_is_400_invalid_request_error(sdk):
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "assistant", "content": "hi"}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_latency_holds_every_reply_without_holding_the_others():
    """A benchmark's fixed-latency API: each reply waits, in a thread of its own (no CPU)."""
    with MessagesDouble(latency_s=0.5) as slow, \
            anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=slow.url, max_retries=0) as client, \
            ThreadPoolExecutor(4) as pool:
        start = time.monotonic()
        replies = list(pool.map(lambda _: client.messages.create(model=MODEL, max_tokens=512, messages=FIBONACCI),
                                range(4)))
        elapsed = time.monotonic() - start
    assert all(r.stop_reason == "end_turn" for r in replies)
    assert 0.5 <= elapsed < 1.5, f"4 calls of 0.5 s at once took {elapsed:.2f} s"
