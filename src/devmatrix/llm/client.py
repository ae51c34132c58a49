"""AnthropicClient: the Messages API through the official SDK, with cache, breaker, budgets.

One call path: cache → budget check → circuit breaker → SDK (its own retries,
the only retry layer) → cost from the model's own price → metrics → one log
line. The same client talks to the paid API or to the local server
(`LLM_BACKEND=local`, base_url of the native `llm` service).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import anthropic
import pybreaker
import structlog

from devmatrix.config import Settings
from devmatrix.errors import CircuitOpen, LLMError
from devmatrix.llm import breaker as breakers
from devmatrix.llm._constants import (
    CHARS_PER_TOKEN_ESTIMATE,
    LOCAL_MODEL,
    MAX_RETRIES,
    REQUEST_TIMEOUT_S,
)
from devmatrix.llm.cache import ResponseCache, cache_key
from devmatrix.llm.ledger import LEDGER, Reservation
from devmatrix.llm.pricing import price_for
from devmatrix.observability.metrics import (
    LLM_COST_USD,
    LLM_REQUEST_DURATION,
    LLM_REQUESTS,
    LLM_TOKENS,
)
from devmatrix.state.redis import RedisManager

log = structlog.get_logger("devmatrix.llm")
ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@dataclass(frozen=True)
class LLMResult:
    text: str
    model: str
    backend: str  # "anthropic" | "local"
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_s: float
    cache_hit: bool
    stop_reason: str | None


class AnthropicClient:
    def __init__(
        self,
        api_key: str | None = None,
        model: str | None = None,
        enable_cache: bool = True,
        enable_retry: bool = True,
        enable_circuit_breaker: bool = True,
        *,
        base_url: str | None = None,
        settings: Settings | None = None,
        redis_manager: RedisManager | None = None,
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        if base_url is None:
            self.backend = s.resolved_llm_backend
        else:  # an explicit URL other than Anthropic's is a local Messages-API server
            self.backend = "anthropic" if base_url == ANTHROPIC_BASE_URL else "local"
        if self.backend == "local":
            self.base_url = base_url or s.llm_base_url
            self.api_key = api_key or s.llm_local_api_key.get_secret_value()
            self.model = model or LOCAL_MODEL
        else:
            self.base_url = base_url or ANTHROPIC_BASE_URL
            key = api_key or (s.anthropic_api_key.get_secret_value() if s.anthropic_api_key else "")
            if not key:
                raise LLMError("no ANTHROPIC_API_KEY for the anthropic backend",
                               fix="set ANTHROPIC_API_KEY in .env.test, or LLM_BACKEND=local")
            self.api_key = key
            self.model = model or s.anthropic_model
        # fail now, not after a paid call, if the cost of this model cannot be computed
        self.price = price_for(self.model, self.backend, configured=s.configured_price)
        self.enable_circuit_breaker = enable_circuit_breaker
        self._breaker, _ = breakers.breaker_for(self.base_url)
        self._cache = ResponseCache(redis_manager or RedisManager(settings=s)) if enable_cache else None
        self._sdk = anthropic.Anthropic(
            api_key=self.api_key, base_url=self.base_url, timeout=REQUEST_TIMEOUT_S,
            max_retries=MAX_RETRIES if enable_retry else 0,
        )

    def close(self) -> None:
        """Close the SDK's HTTP connection pool (and nothing shared: Redis belongs to its manager)."""
        self._sdk.close()

    def __enter__(self) -> AnthropicClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the key
        return f"AnthropicClient(backend={self.backend!r}, model={self.model!r}, base_url={self.base_url!r})"

    # --- public API -------------------------------------------------------------
    def complete(self, messages: list[dict] | str, *, system: str | None = None,
                 max_tokens: int = 1024, temperature: float = 0.0) -> LLMResult:
        messages = _as_messages(messages)
        start = time.perf_counter()
        key = cache_key(model=self.model, backend=self.backend, system=system, messages=messages,
                        max_tokens=max_tokens, temperature=temperature)
        if self._cache is not None and (hit := self._cache.get(key)):
            result = replace(LLMResult(**hit), cache_hit=True, cost_usd=0.0,
                             latency_s=time.perf_counter() - start)
            self._observe(result, "cache_hit")
            return result
        reservation = self._reserve(messages, system, max_tokens)
        try:
            response = self._guarded(
                self._sdk.messages.create, model=self.model, max_tokens=max_tokens,
                messages=messages, **({"system": system} if system else {}),
                extra_body={"temperature": temperature},
            )
        except LLMError:
            LEDGER.settle(self.settings, reservation, 0.0)  # failed calls are not billed
            self._observe_failure(time.perf_counter() - start)
            raise
        text = "".join(block.text for block in response.content if block.type == "text")
        result = LLMResult(
            text=text, model=self.model, backend=self.backend,
            input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens,
            cost_usd=self.price.cost(response.usage.input_tokens, response.usage.output_tokens),
            latency_s=time.perf_counter() - start, cache_hit=False, stop_reason=response.stop_reason,
        )
        LEDGER.settle(self.settings, reservation, result.cost_usd)
        if self._cache is not None:
            self._cache.set(key, asdict(result))
        self._observe(result, "success")
        return result

    def stream(self, messages: list[dict] | str, *, system: str | None = None,
               max_tokens: int = 1024, temperature: float = 0.0) -> Iterator[str]:
        """Yield text as it arrives (no cache: a stream is for watching a fresh reply)."""
        messages = _as_messages(messages)
        reservation = self._reserve(messages, system, max_tokens)
        start = time.perf_counter()
        used = {"input": 0, "chars": 0}  # what an aborted stream has used so far
        final = None
        try:
            stream = self._guarded(
                self._sdk.messages.stream, model=self.model, max_tokens=max_tokens, messages=messages,
                **({"system": system} if system else {}), extra_body={"temperature": temperature},
            )
            with stream as events:
                for text in events.text_stream:
                    used["input"] = events.current_message_snapshot.usage.input_tokens
                    used["chars"] += len(text)
                    yield text
                final = events.get_final_message()
        finally:  # stopped early (consumer closed it, or an error): settle what it used
            if final is None:
                out = math.ceil(used["chars"] / CHARS_PER_TOKEN_ESTIMATE)
                LEDGER.settle(self.settings, reservation, self.price.cost(used["input"], min(out, max_tokens)))
        usage = final.usage
        result = LLMResult("", self.model, self.backend, usage.input_tokens, usage.output_tokens,
                           self.price.cost(usage.input_tokens, usage.output_tokens),
                           time.perf_counter() - start, False, final.stop_reason)
        LEDGER.settle(self.settings, reservation, result.cost_usd)
        self._observe(result, "success")

    def breaker_status(self) -> dict[str, object]:
        return breakers.status(self.base_url)

    # --- one call path ----------------------------------------------------------------
    def _reserve(self, messages: list[dict], system: str | None, max_tokens: int) -> Reservation:
        chars = len(system or "") + sum(len(str(m.get("content", ""))) for m in messages)
        worst = self.price.cost(chars // CHARS_PER_TOKEN_ESTIMATE + 1, max_tokens)
        return LEDGER.reserve(settings=self.settings, backend=self.backend, worst_case_usd=worst)

    def _guarded(self, function, **kwargs):
        """The SDK call behind the breaker, with SDK errors turned into LLMError."""
        try:
            if self.enable_circuit_breaker:
                return self._breaker.call(function, **kwargs)
            return function(**kwargs)
        except pybreaker.CircuitBreakerError as error:
            status = self.breaker_status()
            raise CircuitOpen(
                f"circuit breaker for {self.base_url} is open (since {status['opened_at']},"
                f" {status['failures']} consecutive failures); the call was not sent",
                fix=f"check the backend (`invoke infra.status`); it retries by itself after"
                    f" {status['reset_timeout_s']} s, or reset it via the API",
            ) from error
        except anthropic.AuthenticationError as error:
            raise LLMError(f"{self.backend} backend at {self.base_url} rejected the API key",
                           fix="check ANTHROPIC_API_KEY / LLM_LOCAL_API_KEY") from error
        except anthropic.APIConnectionError as error:
            raise LLMError(f"cannot reach the {self.backend} backend at {self.base_url}"
                           f" (after {MAX_RETRIES} retries): {error}",
                           fix="`invoke infra.up -s llm`" if self.backend == "local"
                           else "check the network and https://status.anthropic.com") from error
        except anthropic.APIStatusError as error:
            raise LLMError(f"{self.backend} backend answered {error.status_code}: {error.message}",
                           fix="see the message; 4xx means the request, 5xx the server") from error

    def _observe(self, result: LLMResult, outcome: str) -> None:
        labels = {"model": self.model, "backend": self.backend}
        LLM_REQUESTS.labels(**labels, outcome=outcome).inc()
        if not result.cache_hit:
            LLM_TOKENS.labels(**labels, direction="input").inc(result.input_tokens)
            LLM_TOKENS.labels(**labels, direction="output").inc(result.output_tokens)
            LLM_COST_USD.labels(**labels).inc(result.cost_usd)
            LLM_REQUEST_DURATION.labels(**labels).observe(result.latency_s)
        log.info("llm_call", model=self.model, backend=self.backend, outcome=outcome,
                 input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                 cost_usd=round(result.cost_usd, 6), latency_s=round(result.latency_s, 3),
                 cache_hit=result.cache_hit)

    def _observe_failure(self, latency_s: float) -> None:
        LLM_REQUESTS.labels(model=self.model, backend=self.backend, outcome="error").inc()
        log.warning("llm_call", model=self.model, backend=self.backend, outcome="error",
                    latency_s=round(latency_s, 3))


def _as_messages(messages: list[dict] | str) -> list[dict]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return messages


def create_llm_client(settings: Settings, **overrides: object) -> AnthropicClient:
    """The client for the configured backend (LLM_BACKEND, resolved)."""
    return AnthropicClient(settings=settings, **overrides)  # type: ignore[arg-type]


def check_backend(settings: Settings) -> tuple[bool, str]:
    """One "Reply with: OK" round trip; (ok, what happened)."""
    try:
        with AnthropicClient(settings=settings, enable_cache=False) as client:
            result = client.complete("Reply with: OK", max_tokens=16)
    except LLMError as error:
        return False, str(error)
    ok = result.output_tokens > 0 and bool(result.text.strip())
    return ok, (f"{client.backend} backend, model {client.model} at {client.base_url}: replied"
                f" {result.text.strip()[:40]!r} in {result.latency_s:.2f} s"
                f" ({result.input_tokens}+{result.output_tokens} tokens, ${result.cost_usd:.6f})")
