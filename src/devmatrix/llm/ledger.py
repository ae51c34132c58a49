"""Budgets: calls and dollars, reserved atomically before a call is sent, settled after.

The budget is shared by every process that uses the same Redis (the API, the
CLI, workflow branches, several terminals): one Lua script checks and reserves
in one step, so N parallel calls whose worst cases exceed the budget cannot all
pass the check together. Per UTC day, in micro-dollars:

- ``devmatrix:llm:budget:<day>`` (hash): ``spent`` and ``calls`` (paid calls sent);
- ``devmatrix:llm:budget:<day>:reserved`` (sorted set): one member per call in
  flight, ``<id>:<worst case>``, scored by when it lapses; a process that dies
  between reserve and settle frees its reservation after RESERVATION_TTL_S.

``reserve`` counts a paid call and its worst-case cost, or raises
BudgetExceeded and nothing is counted or sent. ``settle`` replaces the worst
case by what the call really cost (for a stream stopped early: what it used).
A free call (the local backend, price 0) needs neither Redis nor a reservation.

A settle comes after the reply, which is paid for: a Redis that fails just then must not
cost the caller that reply. So a settle that Redis does not take is kept in this process
(logged as ``llm_cost_unrecorded`` with the cost, the address and the fix) and sent again
before this ledger's next reserve or settle on that Redis. Until then its worst case stays
reserved (the budget errs high, never low); a process that dies first loses only that
call's cost, after RESERVATION_TTL_S.
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import structlog

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.errors import BudgetExceeded, ServiceError

PREFIX = "devmatrix:llm:budget"
RESERVATION_TTL_S = 3600  # longer than any call (timeout x retries), shorter than a day
KEY_TTL_S = 2 * 24 * 3600
MICRO = 1_000_000
# A reply is billed for more input than the prompt's text: role markers and the chat
# template (measured ~40 tokens on the local server). Added to every worst case.
PROMPT_OVERHEAD_TOKENS = 64

# KEYS: budget hash, reservations zset. ARGV: id, worst (micro-USD), budget (micro-USD),
# max calls (-1: not a paid call), reservation ttl (s), key ttl (s).
# Returns {status, spent, reserved, calls}: 1 reserved, 0 call budget spent, -1 dollar budget.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
local reserved = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  reserved = reserved + tonumber(string.match(member, ':(%d+)$'))
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local calls = tonumber(redis.call('HGET', KEYS[1], 'calls') or '0')
local worst, budget, max_calls = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if max_calls >= 0 and calls >= max_calls then return {0, spent, reserved, calls} end
if spent + reserved + worst > budget then return {-1, spent, reserved, calls} end
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[5]) * 1000, ARGV[1] .. ':' .. ARGV[2])
if max_calls >= 0 then redis.call('HINCRBY', KEYS[1], 'calls', 1) end
redis.call('HSETNX', KEYS[1], 'spent', 0)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {1, spent, reserved, calls}
"""
# KEYS: budget hash, reservations zset. ARGV: member, cost (micro-USD).
_SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
return 1
"""


def _micro(usd: float) -> int:
    return math.ceil(round(usd * MICRO, 6))  # never less than the cost; float noise ignored


@dataclass
class Reservation:
    """One call's reserved worst case; settled exactly once."""

    key: str
    member: str
    worst_usd: float
    settled: bool = False


FREE = Reservation("", "", 0.0, settled=True)  # a free call: nothing to reserve or settle
log = structlog.get_logger("devmatrix.llm")


@dataclass(frozen=True)
class UnrecordedCost:
    """A settle that Redis did not take: sent again before the next reserve or settle there."""

    address: tuple[str, int]
    reservation: Reservation
    cost_usd: float


class Ledger:
    """Reserve and settle against the shared budget in the Redis of the settings given."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix  # tests use their own (`test:…`), so they never touch the real budget
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, int, bool], redis.Redis] = {}
        self._spent_here = 0.0  # this process's share, for its own metrics
        self._unrecorded: list[UnrecordedCost] = []
        self._sending = threading.Lock()  # one sender of the kept settles: none is recorded twice

    def _client(self, settings: Settings, *, reconnect: bool = True) -> redis.Redis:
        key = (settings.redis_host, settings.redis_port, reconnect)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = clients.redis_client(settings, reconnect=reconnect)
            return self._clients[key]

    def reserve(self, *, settings: Settings, backend: str, worst_case_usd: float) -> Reservation:
        """Count one call and its worst-case cost, or raise BudgetExceeded (nothing counted, nothing sent)."""
        paid = backend == "anthropic"
        budget, max_calls = settings.llm_budget_usd, settings.anthropic_api_max_calls
        if not paid and worst_case_usd == 0:
            return FREE
        if worst_case_usd > budget:  # no sharing can make this one fit: no need to ask Redis
            raise _dollars_exceeded(0.0, 0.0, worst_case_usd, budget)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        key = f"{self.prefix}:{day}"
        member_id = uuid.uuid4().hex
        self._record_unrecorded(settings)
        with clients.map_exceptions("redis", f"cannot reserve the LLM budget at {settings.redis_host}:"
                                             f"{settings.redis_port}, so the call was not sent",
                                    fix="`invoke infra.up -s redis`: the shared budget lives there"):
            status, spent, reserved, calls = self._client(settings).eval(
                _RESERVE, 2, key, f"{key}:reserved", member_id, _micro(worst_case_usd), int(budget * MICRO),
                max_calls if paid else -1, RESERVATION_TTL_S, KEY_TTL_S)
        if status == 0:
            raise BudgetExceeded(
                f"call budget exhausted: {calls} of ANTHROPIC_API_MAX_CALLS={max_calls} paid calls already"
                f" sent today (UTC {day}, every process on this Redis); this call was not sent",
                fix="raise ANTHROPIC_API_MAX_CALLS in .env.test, or wait for the next UTC day")
        if status == -1:
            raise _dollars_exceeded(spent / MICRO, reserved / MICRO, worst_case_usd, budget)
        return Reservation(key, f"{member_id}:{_micro(worst_case_usd)}", worst_case_usd)

    def settle(self, settings: Settings, reservation: Reservation, cost_usd: float) -> None:
        """Release the worst case and add what the call cost (once; a second settle does nothing).
        Never raises for Redis: a cost Redis does not take is kept and sent again (module doc)."""
        if reservation.settled:
            if reservation is FREE:
                with self._lock:
                    self._spent_here += cost_usd
            return
        reservation.settled = True
        with self._lock:
            self._spent_here += cost_usd
            self._unrecorded.append(UnrecordedCost((settings.redis_host, settings.redis_port), reservation, cost_usd))
        self._record_unrecorded(settings)

    def unrecorded(self) -> list[UnrecordedCost]:
        """The costs Redis has not taken yet (oldest first)."""
        with self._lock:
            return list(self._unrecorded)

    def _record_unrecorded(self, settings: Settings) -> None:
        """Send the kept settles of this Redis, oldest first; stop at the first it does not take."""
        address = (settings.redis_host, settings.redis_port)
        with self._sending:
            for cost in [c for c in self.unrecorded() if c.address == address]:
                try:
                    self._send_settle(settings, cost)
                except ServiceError as error:
                    log.warning("llm_cost_unrecorded", cost_usd=round(cost.cost_usd, 6),
                                redis=f"{address[0]}:{address[1]}", error=error.message, fix=error.fix,
                                unrecorded=len(self.unrecorded()))
                    return
                with self._lock:
                    self._unrecorded.remove(cost)

    def _send_settle(self, settings: Settings, cost: UnrecordedCost) -> None:
        with clients.map_exceptions("redis", f"cannot record an LLM call's cost ({usd(cost.cost_usd)}) at"
                                             f" {settings.redis_host}:{settings.redis_port}",
                                    fix="`invoke infra.up -s redis`: the cost is sent again before this process's"
                                        " next call; its worst case stays reserved until then, or lapses after"
                                        f" {RESERVATION_TTL_S} s"):
            key, member = cost.reservation.key, cost.reservation.member
            self._client(settings).eval(_SETTLE, 2, key, f"{key}:reserved", member, _micro(cost.cost_usd))

    def shared(self, settings: Settings, *, probe: bool = False) -> dict[str, float]:
        """Today's totals of every process on this Redis: spent, reserved (in flight), paid calls.
        ``probe``: one attempt, no reconnects (a scrape must not wait out a Redis restart)."""
        key = f"{self.prefix}:{datetime.now(UTC).strftime('%Y-%m-%d')}"
        client = self._client(settings, reconnect=not probe)
        values = client.hgetall(key)
        reserved = sum(int(m.rsplit(":", 1)[1]) for m in client.zrange(f"{key}:reserved", 0, -1))
        return {"spent_usd": int(values.get("spent", 0)) / MICRO, "reserved_usd": reserved / MICRO,
                "calls": int(values.get("calls", 0))}

    def snapshot(self) -> dict[str, float]:
        """This process's spending (for its own metrics)."""
        with self._lock:
            return {"spent_usd": round(self._spent_here, 6)}


def usd(amount: float) -> str:
    """Dollars to the micro-dollar, trailing zeros dropped: a $0.000043 call is never "$0.0000"."""
    text = f"{amount:.6f}".rstrip("0").rstrip(".")
    return f"${text}" if text not in ("", "-0") else "$0"


def _dollars_exceeded(spent: float, reserved: float, worst: float, budget: float) -> BudgetExceeded:
    return BudgetExceeded(
        f"dollar budget would be exceeded: spent {usd(spent)} today and {usd(reserved)} reserved by calls in"
        f" flight (every process on this Redis); this call may cost up to {usd(worst)},"
        f" LLM_BUDGET_USD={budget}; this call was not sent",
        fix="raise LLM_BUDGET_USD in .env.test, or lower max_tokens")


LEDGER = Ledger()  # the process's handle on the shared budget
