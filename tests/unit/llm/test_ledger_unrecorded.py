"""A paid reply is never lost to a Redis that fails at settle time, and its cost is not lost
either: the ledger keeps it and sends it again before its next reserve or settle on that Redis,
oldest first, each once. The Redis here is a fake at the ledger's one seam (`_client`): the
real Lua scripts against a real Redis are the integration tier's (test_budget_shared.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from devmatrix.config import Settings
from devmatrix.llm import client as client_module
from devmatrix.llm.ledger import _RESERVE, _SETTLE, Ledger, Reservation, _micro
from devmatrix.llm.pricing import price_for

pytestmark = pytest.mark.unit


class FlakyRedis:
    """Answers the ledger's two scripts; refuses every call while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.settled: list[tuple[str, int]] = []  # (member, micro-dollars), in the order received
        self.reserved = 0
        self.lock = threading.Lock()

    def eval(self, script: str, _numkeys: int, *args: object) -> list[int] | int:
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        time.sleep(0.002)  # a round trip: lets parallel callers interleave, as over a socket
        with self.lock:
            if script == _SETTLE:
                self.settled.append((str(args[2]), int(args[3])))
                return 1
            assert script == _RESERVE
            self.reserved += 1
            return [1, 0, 0, 0]


@pytest.fixture
def fake() -> FlakyRedis:
    return FlakyRedis()


@pytest.fixture
def ledger(fake: FlakyRedis) -> Ledger:
    ledger = Ledger(prefix="test:unit")
    ledger._client = lambda _settings, reconnect=True: fake  # the seam every Redis call goes through
    return ledger


def reservation(member: str) -> Reservation:
    return Reservation("test:unit:2026-12-07", f"{member}:5000", 0.005)


def test_kept_costs_are_sent_before_the_next_reserve_oldest_first_each_once(ledger, fake):
    settings = Settings()
    fake.down = True
    ledger.settle(settings, reservation("first"), 0.001)
    ledger.settle(settings, reservation("second"), 0.002)
    assert fake.settled == [] and len(ledger.unrecorded()) == 2
    fake.down = False
    ledger.reserve(settings=settings, backend="anthropic", worst_case_usd=0.01)
    assert fake.settled == [("first:5000", 1000), ("second:5000", 2000)]
    assert ledger.unrecorded() == [] and fake.reserved == 1
    ledger.settle(settings, reservation("third"), 0.003)  # a later settle sends only its own
    assert fake.settled[2:] == [("third:5000", 3000)]


def test_a_kept_cost_goes_only_to_the_redis_that_did_not_take_it(ledger, fake):
    fake.down = True
    ledger.settle(Settings(redis_port=6390), reservation("other"), 0.001)
    fake.down = False
    ledger.settle(Settings(), reservation("mine"), 0.002)  # another Redis: the kept one stays kept
    assert fake.settled == [("mine:5000", 2000)]
    assert [c.address for c in ledger.unrecorded()] == [("127.0.0.1", 6390)]


def test_parallel_settles_never_send_a_kept_cost_twice(ledger, fake):
    settings = Settings()
    fake.down = True
    for n in range(20):
        ledger.settle(settings, reservation(f"kept{n}"), 0.001)
    fake.down = False
    threads = [threading.Thread(target=ledger.settle, args=(settings, reservation(f"new{n}"), 0.001)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    members = [member for member, _ in fake.settled]
    assert len(members) == len(set(members)) == 28 and ledger.unrecorded() == []


@pytest.fixture
def priced(ledger: Ledger, messages_server, monkeypatch) -> Iterator[client_module.AnthropicClient]:
    """A client priced as the paid model, talking to the scripted Messages API on loopback."""
    monkeypatch.setattr(client_module, "LEDGER", ledger)
    client = client_module.AnthropicClient(settings=Settings(), enable_cache=False, base_url=messages_server.url)
    client.backend, client.price = "anthropic", price_for("claude-haiku-5-5", "anthropic")
    yield client
    client.close()


def test_a_paid_reply_is_returned_when_redis_fails_at_settle_and_its_cost_is_recorded_next_call(priced, ledger, fake):
    real_send = priced._send_once

    def reply_then_redis_fails(*args: object):
        response = real_send(*args)
        fake.down = True  # Redis goes away after the reply arrived, before the settle
        return response

    priced._send_once = reply_then_redis_fails
    result = priced.complete("write add", max_tokens=64)
    assert result.text == "OK" and result.cost_usd > 0
    assert [c.cost_usd for c in ledger.unrecorded()] == [result.cost_usd]
    fake.down, priced._send_once = False, real_send
    second = priced.complete("write sub", max_tokens=64)
    assert [micro for _, micro in fake.settled] == [_micro(result.cost_usd), _micro(second.cost_usd)]
