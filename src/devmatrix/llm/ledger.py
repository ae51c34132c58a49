"""Budgets: calls and dollars, checked before a call is sent.

One ledger per process, shared by every client, so two clients cannot each
spend the whole budget. A call that could exceed a budget raises
BudgetExceeded and is not sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from devmatrix.errors import BudgetExceeded


@dataclass
class Ledger:
    calls: int = 0
    spent_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, *, backend: str, max_calls: int, budget_usd: float,
                worst_case_usd: float) -> None:
        """Count one call, or raise BudgetExceeded without counting it."""
        with self._lock:
            if backend == "anthropic" and self.calls >= max_calls:
                raise BudgetExceeded(
                    f"call budget exhausted: {self.calls} of ANTHROPIC_API_MAX_CALLS={max_calls}"
                    " paid calls already sent; this call was not sent",
                    fix="raise ANTHROPIC_API_MAX_CALLS in .env.test, or start a new process",
                )
            if self.spent_usd + worst_case_usd > budget_usd:
                raise BudgetExceeded(
                    f"dollar budget would be exceeded: spent ${self.spent_usd:.4f}, this call"
                    f" may cost up to ${worst_case_usd:.4f}, LLM_BUDGET_USD={budget_usd};"
                    " this call was not sent",
                    fix="raise LLM_BUDGET_USD in .env.test, or lower max_tokens",
                )
            if backend == "anthropic":
                self.calls += 1

    def record(self, cost_usd: float) -> None:
        with self._lock:
            self.spent_usd += cost_usd

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {"calls": self.calls, "spent_usd": round(self.spent_usd, 6)}


LEDGER = Ledger()  # the process's ledger
