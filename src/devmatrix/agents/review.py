"""Review: the model scores the code 0–10. A reply without a score is an error, never 7.0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from devmatrix.agents._extract import parse_score
from devmatrix.errors import ReviewError

if TYPE_CHECKING:
    from devmatrix.llm import AnthropicClient

REVIEW_MAX_TOKENS = 12
# The reply is started for the model (assistant prefill) so that its first
# tokens are the score: both the paid API and llama.cpp continue a prefill.
PREFILL = "Score (0-10):"
PROMPT = (
    "Rate the quality of this Python code from 0 (broken) to 10 (excellent): correctness,"
    " clarity, error handling. Reply with only the number.\n\nRequest: {request}\n\n"
    "```python\n{code}```"
)


@dataclass(frozen=True)
class Review:
    score: float
    reply: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


def review_code(client: AnthropicClient, request: str, code: str, *,
                deadline_s: float | None = None, use_cache: bool = True) -> Review:
    reply = client.complete(
        [{"role": "user", "content": PROMPT.format(request=request, code=code)},
         {"role": "assistant", "content": PREFILL}],
        max_tokens=REVIEW_MAX_TOKENS, deadline_s=deadline_s, use_cache=use_cache,
    )
    try:
        score = parse_score(reply.text, prefill=PREFILL)
    except ValueError as error:
        raise ReviewError(f"review failed: {error}",
                          fix="reword the request, or use a model that follows instructions better") from None
    return Review(score, reply.text, reply.input_tokens, reply.output_tokens, reply.cost_usd)
