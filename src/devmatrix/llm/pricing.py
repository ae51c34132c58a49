"""What a call costs: a dated price table, and the model's own price — never another's.

An unknown model is an error (UnknownModel) unless a price is configured for it
(LLM_PRICE_INPUT_PER_MTOK / LLM_PRICE_OUTPUT_PER_MTOK), so a cost is never
computed at the wrong model's price. The local backend costs nothing, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from devmatrix.errors import UnknownModel

PRICES_AS_OF = date(2026, 11, 1)


@dataclass(frozen=True)
class Price:
    input_per_mtok: float  # dollars per million input tokens
    output_per_mtok: float  # dollars per million output tokens
    source: str = f"price table of {PRICES_AS_OF.isoformat()}"

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


# Anthropic list prices, USD per million tokens (input, output), as of PRICES_AS_OF.
PRICES: dict[str, Price] = {
    "claude-haiku-5-5": Price(0.10, 0.50),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-haiku-4-5-20251001": Price(1.00, 5.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4-5-20250929": Price(3.00, 15.00),
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-5-20251101": Price(5.00, 25.00),
}
LOCAL_PRICE = Price(0.0, 0.0, source="local backend: no charge")


def price_for(
    model: str, backend: str, *, configured: tuple[float, float] | None = None
) -> Price:
    """The price of ``model``; the configured price wins, then the table."""
    if backend == "local":
        return LOCAL_PRICE
    if configured is not None:
        return Price(*configured, source="configured (LLM_PRICE_*_PER_MTOK)")
    try:
        return PRICES[model]
    except KeyError:
        raise UnknownModel(
            f"no price is known for model {model!r}, so its cost cannot be computed",
            fix="use a model from devmatrix/llm/pricing.py (" + ", ".join(sorted(PRICES))
                + "), or set LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK",
        ) from None
