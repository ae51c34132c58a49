"""What a call costs: a dated price table, and the model's own price — never another's.

Every entry names its source and the date it was read. Some models bill by prompt
size: Claude Haiku 5.5 charges $0.10 / $0.50 per million tokens for prompts up to
100,000 input tokens and $0.50 / $2.50 for the *whole request* (input and output)
when the prompt is longer. `Price.cost` applies that tier from the call's own
input tokens.

Prompt caching: the client sends no `cache_control`, so the API bills no cache
writes or reads and the table carries no cache prices. A client that starts using
prompt caching must add them here (the model pages list them) before it ships.

An unknown model is an error (UnknownModel) unless a price is configured for it
(LLM_PRICE_INPUT_PER_MTOK / LLM_PRICE_OUTPUT_PER_MTOK), so a cost is never
computed at the wrong model's price. The local backend costs nothing, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from devmatrix.errors import UnknownModel

# Where each price was read, and when. The 4.5 rows predate per-row sources: they are the
# table as of 2026-11-01, from Anthropic's pricing page.
PRICING_PAGE = "https://platform.claude.com/docs/en/about-claude/pricing"
TABLE_READ_ON = date(2026, 11, 1)
CURRENT_MODELS_READ_ON = date(2026, 11, 29)


def _model_page(name: str) -> str:
    return f"https://platform.claude.com/docs/en/models/{name}/overview"


@dataclass(frozen=True)
class LongPromptRate:
    """The rates of a whole request whose prompt has more than ``above_input_tokens`` tokens."""

    above_input_tokens: int
    input_per_mtok: float
    output_per_mtok: float


@dataclass(frozen=True)
class Price:
    input_per_mtok: float  # dollars per million input tokens
    output_per_mtok: float  # dollars per million output tokens
    source: str = PRICING_PAGE
    as_of: date | None = TABLE_READ_ON
    long_prompt: LongPromptRate | None = None  # None: one rate whatever the prompt size

    def rates(self, input_tokens: int) -> tuple[float, float]:
        """(input, output) dollars per million tokens for a prompt of ``input_tokens``."""
        tier = self.long_prompt
        if tier is not None and input_tokens > tier.above_input_tokens:
            return tier.input_per_mtok, tier.output_per_mtok
        return self.input_per_mtok, self.output_per_mtok

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        input_rate, output_rate = self.rates(input_tokens)
        return (input_tokens * input_rate + output_tokens * output_rate) / 1e6


# Anthropic list prices, USD per million tokens (input, output), each with its source and date.
PRICES: dict[str, Price] = {
    "claude-haiku-5-5": Price(
        0.10, 0.50, _model_page("haiku-5-5"), CURRENT_MODELS_READ_ON,
        long_prompt=LongPromptRate(above_input_tokens=100_000, input_per_mtok=0.50, output_per_mtok=2.50)),
    "claude-sonnet-5-5": Price(2.00, 10.00, _model_page("sonnet-5-5"), CURRENT_MODELS_READ_ON),
    "claude-opus-5-5": Price(4.00, 20.00, _model_page("opus-5-5"), CURRENT_MODELS_READ_ON),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-haiku-4-5-20251001": Price(1.00, 5.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4-5-20250929": Price(3.00, 15.00),
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-5-20251101": Price(5.00, 25.00),
}
LOCAL_PRICE = Price(0.0, 0.0, source="local backend: no charge", as_of=None)


def price_for(
    model: str, backend: str, *, configured: tuple[float, float] | None = None
) -> Price:
    """The price of ``model``; the configured price wins, then the table."""
    if backend == "local":
        return LOCAL_PRICE
    if configured is not None:
        return Price(*configured, source="configured (LLM_PRICE_*_PER_MTOK)", as_of=None)
    try:
        return PRICES[model]
    except KeyError:
        raise UnknownModel(
            f"no price is known for model {model!r}, so its cost cannot be computed",
            fix="use a model from devmatrix/llm/pricing.py (" + ", ".join(sorted(PRICES))
                + "), or set LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK",
        ) from None
