"""The dollar and call budgets hold under concurrency: reserved atomically in the real Redis, then settled.

The calls go to the real local LLM server; the client is priced as the paid
model (its backend and price set to Anthropic's) so that every call has a cost.
A passthrough around the SDK's `messages.stream` (the client's one send path) counts
what is really sent.
Each test has its own `test:` budget prefix, so it never touches the real budget.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from devmatrix.config import Settings
from devmatrix.errors import BudgetExceeded
from devmatrix.llm import AnthropicClient
from devmatrix.llm import client as client_module
from devmatrix.llm.ledger import PROMPT_OVERHEAD_TOKENS, Ledger
from devmatrix.llm.pricing import price_for

pytestmark = pytest.mark.integration

PAID_MODEL = "claude-haiku-5-5"
MAX_TOKENS = 32
PROMPT = "Reply with: OK"


@pytest.fixture
def ledger(settings: Settings, monkeypatch) -> Iterator[Ledger]:
    ledger = Ledger(prefix=f"test:budget:{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(client_module, "LEDGER", ledger)
    yield ledger
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port,
                         password=settings.redis_password.get_secret_value() or None)
    for key in client.scan_iter(match=f"{ledger.prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def priced_client() -> Iterator[Callable[[Settings], tuple[AnthropicClient, list[int]]]]:
    """Makes clients on the local server, priced and counted as paid calls, each with the list of
    calls it sent; closes them after the test (a client left to the garbage collector may warn
    "unclosed socket" inside a later test)."""
    made: list[AnthropicClient] = []

    def make(settings: Settings) -> tuple[AnthropicClient, list[int]]:
        # no breaker: pybreaker holds one lock for the whole call, which would run the calls one by one
        client = AnthropicClient(settings=settings, enable_cache=False, enable_circuit_breaker=False)
        made.append(client)
        client.backend, client.price = "anthropic", price_for(PAID_MODEL, "anthropic")
        sent: list[int] = []
        real_stream = client._sdk.messages.stream

        def stream(**kwargs):
            sent.append(1)
            return real_stream(**kwargs)

        client._sdk.messages.stream = stream
        return client, sent

    yield make
    for client in made:
        client.close()


def worst_case(client: AnthropicClient) -> float:
    return client.price.cost(len(PROMPT) // 3 + 1 + PROMPT_OVERHEAD_TOKENS, MAX_TOKENS)


def test_parallel_calls_beyond_the_budget_are_refused_before_sending(settings, ledger, priced_client):
    """8 calls at once, room for 3 worst cases: exactly 3 are sent, 5 get BudgetExceeded unsent."""
    probe, _ = priced_client(settings)
    worst = worst_case(probe)
    budget = settings.model_copy(update={"llm_budget_usd": round(3.5 * worst, 9), "anthropic_api_max_calls": 100})
    client, sent = priced_client(budget)
    outcomes: list[str] = []
    decided = threading.Event()
    start = threading.Barrier(8)
    real_stream = client._sdk.messages.stream

    def stream_after_everyone_decided(**kwargs):  # no call settles (frees budget) before all 8 reserved
        outcomes.append("sent")
        if len(outcomes) == 8:
            decided.set()
        assert decided.wait(30)
        return real_stream(**kwargs)

    client._sdk.messages.stream = stream_after_everyone_decided

    failures: list[Exception] = []

    def call() -> None:
        start.wait()
        try:
            client.complete(PROMPT, max_tokens=MAX_TOKENS)
        except BudgetExceeded as error:
            assert "was not sent" in str(error)
            outcomes.append("refused")
            if len(outcomes) == 8:
                decided.set()
        except Exception as error:  # noqa: BLE001 - a sent call the busy local server failed: not our subject
            failures.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["sent"] * 3, failures
    assert len(sent) == 3
    assert not any(isinstance(f, BudgetExceeded) for f in failures)
    shared = ledger.shared(budget)
    assert shared["calls"] == 3 and shared["reserved_usd"] == 0  # every reservation settled, failed ones at $0
    assert 0 <= shared["spent_usd"] <= 3 * worst + 3e-6


def test_processes_share_one_budget(settings, ledger):
    """Three processes reserve against the same Redis at once: the budget has room for two."""
    code = (
        "import sys\n"
        "from devmatrix.config import load_settings\n"
        "from devmatrix.errors import BudgetExceeded\n"
        "from devmatrix.llm.ledger import Ledger\n"
        "s = load_settings().model_copy(update={'llm_budget_usd': 0.25})\n"
        f"ledger = Ledger(prefix={ledger.prefix!r})\n"
        "try:\n"
        "    ledger.reserve(settings=s, backend='anthropic', worst_case_usd=0.1)\n"
        "    print('reserved')\n"
        "except BudgetExceeded:\n"
        "    print('refused')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outputs == ["refused", "reserved", "reserved"]
    assert ledger.shared(settings)["reserved_usd"] == pytest.approx(0.2)


def test_the_call_budget_counts_paid_calls_of_every_client(settings, ledger, priced_client):
    limited = settings.model_copy(update={"anthropic_api_max_calls": 2, "llm_budget_usd": 1.0})
    (one, sent_one), (two, sent_two) = priced_client(limited), priced_client(limited)
    one.complete(PROMPT, max_tokens=MAX_TOKENS)
    two.complete(PROMPT + ".", max_tokens=MAX_TOKENS)
    with pytest.raises(BudgetExceeded, match="ANTHROPIC_API_MAX_CALLS=2"):
        one.complete(PROMPT + "!", max_tokens=MAX_TOKENS)
    assert len(sent_one) + len(sent_two) == 2


def test_a_stream_stopped_early_settles_what_it_used(settings, ledger, priced_client):
    client, _ = priced_client(settings.model_copy(update={"llm_budget_usd": 1.0}))
    pieces = client.stream("Count from 1 to 50, one number per line.", max_tokens=200)
    received = [next(pieces), next(pieces)]
    pieces.close()  # the consumer stops reading
    shared = ledger.shared(settings)
    assert shared["reserved_usd"] == 0  # the worst case (200 tokens) was released …
    assert shared["spent_usd"] > 0  # … and what it used was recorded
    assert shared["spent_usd"] <= client.price.cost(100, len("".join(received)) // 3 + 1) + 1e-6
