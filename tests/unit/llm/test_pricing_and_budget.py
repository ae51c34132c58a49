"""Cost at the model's own price; budgets refuse a call before it is sent."""

from __future__ import annotations

import pytest

from devmatrix.config import Settings
from devmatrix.errors import BudgetExceeded, CircuitOpen, ServiceError, UnknownModel
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import BREAKER_FAIL_MAX
from devmatrix.llm.cache import cache_key
from devmatrix.llm.ledger import FREE, Ledger, usd
from devmatrix.llm.pricing import PRICES, price_for
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


def test_cost_uses_the_models_own_price():
    assert price_for("claude-haiku-4-5-20251001", "anthropic").cost(1_000_000, 1_000_000) == 6.0
    assert price_for("claude-haiku-5-5", "anthropic").cost(10_000, 10_000) == pytest.approx(0.006)
    assert price_for("claude-sonnet-4-5", "anthropic").cost(2_000, 1_000) == pytest.approx(0.021)


def test_haiku_5_5_bills_the_whole_request_at_the_long_prompt_rate_above_100k_input_tokens():
    price = price_for("claude-haiku-5-5", "anthropic")
    # up to 100,000 prompt tokens: $0.10 in, $0.50 out per million
    assert price.rates(100_000) == (0.10, 0.50)
    assert price.cost(100_000, 1_000) == pytest.approx((100_000 * 0.10 + 1_000 * 0.50) / 1e6)
    # one token more: $0.50 in, $2.50 out, for the output as well
    assert price.rates(100_001) == (0.50, 2.50)
    assert price.cost(100_001, 1_000) == pytest.approx((100_001 * 0.50 + 1_000 * 2.50) / 1e6)
    assert price.cost(100_001, 1_000) > 4.9 * price.cost(100_000, 1_000)


def test_current_models_are_priced_and_every_price_names_its_source_and_date():
    assert price_for("claude-sonnet-5-5", "anthropic").cost(10**6, 10**6) == pytest.approx(12.0)
    assert price_for("claude-opus-5-5", "anthropic").cost(10**6, 10**6) == pytest.approx(24.0)
    for model in ("claude-sonnet-5-5", "claude-opus-5-5"):  # one rate at any prompt size
        assert price_for(model, "anthropic").rates(900_000) == price_for(model, "anthropic").rates(1)
    for model, price in PRICES.items():
        assert price.source.startswith("https://platform.claude.com/docs/"), model
        assert price.as_of is not None, model


def test_unknown_model_is_an_error_naming_it_and_the_fix():
    with pytest.raises(UnknownModel) as caught:
        price_for("claude-imaginary-9", "anthropic")
    assert "claude-imaginary-9" in str(caught.value) and "LLM_PRICE_INPUT_PER_MTOK" in str(caught.value)


def test_a_configured_price_wins_and_local_is_free():
    assert price_for("claude-imaginary-9", "anthropic", configured=(2.0, 4.0)).cost(10**6, 0) == 2.0
    local = price_for("anything", "local")
    assert local.cost(10**6, 10**6) == 0.0 and "local" in local.source


def test_the_default_model_is_priced_and_not_the_seeds_retired_id():
    assert Settings().anthropic_model in PRICES
    assert Settings().anthropic_model != "claude-haiku-4-5-20251001"


def test_a_call_that_alone_exceeds_the_budget_is_refused_without_asking_redis():
    # the shared budget (reserve/settle in Redis) is tested in tests/integration/llm/test_budget_shared.py
    with pytest.raises(BudgetExceeded, match=r"LLM_BUDGET_USD=0\.05"):
        Ledger().reserve(settings=Settings(llm_budget_usd=0.05), backend="anthropic", worst_case_usd=0.06)
    assert Ledger().reserve(settings=Settings(), backend="local", worst_case_usd=0.0) is FREE


def test_exhausted_budget_sends_nothing():
    # Nothing listens on this port: had the client sent the call, it would get a connection error.
    settings = Settings(anthropic_api_key="sk-ant-test", llm_budget_usd=0.0)
    client = AnthropicClient(settings=settings, enable_cache=False,
                             base_url="https://api.anthropic.com")
    with pytest.raises(BudgetExceeded, match="was not sent"):
        client.complete("hello", max_tokens=100)


def test_cache_key_changes_with_anything_that_changes_the_reply():
    base = {"model": "m", "backend": "local", "base_url": "http://127.0.0.1:8002", "system": "s",
            "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "temperature": 0.0}
    key = cache_key(**base)
    assert key == cache_key(**dict(base))
    for field, other in (("model", "n"), ("base_url", "http://127.0.0.1:15080"), ("system", None), ("max_tokens", 11),
                         ("temperature", 0.5), ("messages", [{"role": "user", "content": "hi!"}])):
        assert cache_key(**{**base, field: other}) != key, field


def test_breaker_opens_after_repeated_failures_then_fails_fast():
    # the failure is injected: a local endpoint where nothing listens
    client = AnthropicClient(settings=Settings(), enable_cache=False, enable_retry=False,
                             base_url=f"http://127.0.0.1:{free_port()}")
    for _ in range(BREAKER_FAIL_MAX):  # the last one trips it, and still says why it failed
        with pytest.raises(ServiceError, match="llm: cannot reach the local backend"):
            client.complete("hi", max_tokens=5)
    status = client.breaker_status()
    assert status["state"] == "open" and status["failures"] == BREAKER_FAIL_MAX
    assert status["opened_at"] is not None
    with pytest.raises(CircuitOpen, match="was not sent"):
        client.complete("hi", max_tokens=5)


def test_client_repr_never_shows_the_key():
    client = AnthropicClient(settings=Settings(anthropic_api_key="sk-ant-secret-1234"),
                             enable_cache=False, base_url="https://api.anthropic.com")
    assert "sk-ant-secret" not in repr(client)


@pytest.mark.parametrize(("amount", "shown"), [(0.000043, "$0.000043"), (0.05, "$0.05"), (1.0, "$1"),
                                               (0.0, "$0"), (12.345678, "$12.345678")])
def test_budget_amounts_are_exact_never_rounded_to_zero(amount, shown):
    assert usd(amount) == shown


@pytest.mark.timeout(30)
def test_a_paid_call_with_redis_down_is_not_sent_and_names_redis(closed_port):
    """The shared budget lives in Redis: without it a paid call is refused, and the one mapping
    (clients.map_exceptions) says so, with the address and the fix."""
    settings = Settings(redis_port=closed_port, llm_budget_usd=1.0)
    with pytest.raises(ServiceError, match=rf"^redis: cannot reserve the LLM budget at 127.0.0.1:{closed_port},"
                                           r" so the call was not sent: .*refused") as caught:
        Ledger(prefix="test:unit").reserve(settings=settings, backend="anthropic", worst_case_usd=0.01)
    assert "invoke infra.up -s redis" in caught.value.fix
