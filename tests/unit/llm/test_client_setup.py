"""What a client is built from and checks before it sends anything: the key each backend
sends, a paid backend without a key, the worst case a budget is checked against (the system
prompt and the default max_tokens count), and the backend check's /health probe."""

from __future__ import annotations

import pytest

from devmatrix.config import DEFAULT_ANTHROPIC_BASE_URL, Settings
from devmatrix.errors import BudgetExceeded, LLMError, ServiceError
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import CHARS_PER_TOKEN_ESTIMATE
from devmatrix.llm.client import check_backend
from devmatrix.llm.ledger import PROMPT_OVERHEAD_TOKENS, usd

pytestmark = pytest.mark.unit


def test_the_local_backend_sends_the_configured_local_key(messages_server):
    settings = Settings(llm_local_api_key="unit-local-key")  # pragma: allowlist secret
    client = AnthropicClient(settings=settings, enable_cache=False, base_url=messages_server.url)
    assert client.complete("hi", max_tokens=5).text == "OK"
    assert messages_server.headers[0]["authorization"] == "Bearer unit-local-key"  # pragma: allowlist secret


def test_the_paid_backend_without_a_key_is_refused_before_anything_is_sent():
    with pytest.raises(LLMError) as caught:
        AnthropicClient(settings=Settings(anthropic_api_key=None), enable_cache=False,
                        base_url=DEFAULT_ANTHROPIC_BASE_URL)
    assert "no ANTHROPIC_API_KEY" in caught.value.message
    assert "ANTHROPIC_API_KEY" in caught.value.fix and "LLM_BACKEND=local" in caught.value.fix


def _worst_usd(client: AnthropicClient, prompt_chars: int, max_tokens: int) -> float:
    """The budget's worst case: the prompt at 3 characters a token, the template's overhead, max_tokens."""
    return client.price.cost(prompt_chars // CHARS_PER_TOKEN_ESTIMATE + 1 + PROMPT_OVERHEAD_TOKENS, max_tokens)


def test_the_worst_case_counts_the_system_prompt_and_the_default_max_tokens(closed_port):
    """A long system prompt is billed like the messages: the call is refused when it alone
    would overrun the budget, though the message is short. The default max_tokens is 1024."""
    system, prompt = "You review code. " * 2000, "hi"
    # a configured price where one output token is $0.001, so the message shows each one
    paid = {"anthropic_api_key": "sk-ant-unit", "llm_price_input_per_mtok": 1.0,  # pragma: allowlist secret
            "llm_price_output_per_mtok": 1000.0}
    client = AnthropicClient(settings=Settings(**paid), enable_cache=False, base_url=DEFAULT_ANTHROPIC_BASE_URL)
    worst = _worst_usd(client, len(system) + len(prompt), 1024)
    without_system = _worst_usd(client, len(prompt), 1024)
    budget = round((worst + without_system) / 2, 6)  # the message alone fits, with the system prompt it does not
    settings = Settings(**paid, llm_budget_usd=budget,
                        redis_port=closed_port)  # had it gone on to reserve in Redis: refused, not a BudgetExceeded
    client = AnthropicClient(settings=settings, enable_cache=False, base_url=DEFAULT_ANTHROPIC_BASE_URL)
    with pytest.raises(BudgetExceeded) as caught:
        client.complete(prompt, system=system)
    assert f"this call may cost up to {usd(worst)}," in caught.value.message
    assert "was not sent" in caught.value.message and "LLM_BUDGET_USD" in caught.value.fix


def test_the_backend_check_probes_the_local_servers_health_before_asking(messages_server):
    """A local server whose /health does not answer ok fails the check there: no call is sent."""
    port = int(messages_server.url.rsplit(":", 1)[1])
    settings = Settings(llm_backend="local", llm_port=port)  # this server has no /health (501)
    with pytest.raises(ServiceError, match=r"/health") as caught:
        check_backend(settings)
    assert caught.value.service == "llm"
    assert messages_server.requests == []
    # a caller that has just heard from the server skips the probe: the question is asked
    with pytest.raises(LLMError, match="not the answer 4"):
        check_backend(settings, probe_first=False)
    assert messages_server.requests == ["/v1/messages"]


@pytest.mark.timeout(30)
def test_the_response_cache_is_in_the_redis_of_the_clients_settings(closed_port):
    """With the cache on, the client connects to its settings' Redis (not .env.test's), and a
    Redis that is down is said at once, with its address."""
    with pytest.raises(ServiceError) as caught:
        AnthropicClient(settings=Settings(redis_port=closed_port, llm_cache_enabled=True), base_url="http://127.0.0.1:9")
    assert caught.value.service == "redis" and f"127.0.0.1:{closed_port}" in caught.value.message
