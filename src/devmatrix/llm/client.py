"""AnthropicClient: the Messages API through the official SDK, with cache, breaker, budgets.

One call path: cache → budget check → circuit breaker → retries (restarts and
429/5xx only, inside a short window: the only retry layer) → SDK, streamed with an
idle timeout and a deadline → cost from the model's own price → metrics → one log
line. Every failure of the backend is ServiceError("llm"), within the deadline.
The same client talks to the paid API or to the local server
(`LLM_BACKEND=local`, base_url of the native `llm` service).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import anthropic
import httpx2
import pybreaker
import structlog
import tenacity

from devmatrix import readiness
from devmatrix.clients import fix_for
from devmatrix.config import DEFAULT_ANTHROPIC_BASE_URL, Settings, load_settings
from devmatrix.deadlines import (
    CONNECT_TIMEOUT_S,
    LLM_CALL_DEADLINE_S,
    LLM_CHECK_TIMEOUT_S,
    LLM_IDLE_TIMEOUT_S,
    LLM_RETRY_INITIAL_S,
    LLM_RETRY_MAX_WAIT_S,
)
from devmatrix.errors import CircuitOpen, DevMatrixError, LLMError, ServiceError
from devmatrix.llm import breaker as breakers
from devmatrix.llm._constants import CHARS_PER_TOKEN_ESTIMATE, LOCAL_MODEL
from devmatrix.llm.cache import ResponseCache, cache_key
from devmatrix.llm.ledger import LEDGER, PROMPT_OVERHEAD_TOKENS, Reservation, usd
from devmatrix.llm.pricing import price_for
from devmatrix.monitoring.metrics import (
    LLM_COST_USD,
    LLM_REQUEST_DURATION,
    LLM_REQUESTS,
    LLM_TOKENS,
)
from devmatrix.state.redis import RedisManager

log = structlog.get_logger("devmatrix.llm")
ANTHROPIC_BASE_URL = DEFAULT_ANTHROPIC_BASE_URL  # the public API; the setting may point elsewhere


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
        self.settings = settings or load_settings()  # the seed calls it bare: .env.test still counts
        s = self.settings
        if base_url is None:
            self.backend = s.resolved_llm_backend
        else:  # an explicit URL other than Anthropic's (or ANTHROPIC_BASE_URL) is a local server
            self.backend = "anthropic" if base_url in (ANTHROPIC_BASE_URL, s.anthropic_base_url) else "local"
        if self.backend == "local":
            self.base_url = base_url or s.llm_base_url
            self.api_key = api_key or s.llm_local_api_key.get_secret_value()
            self.model = model or LOCAL_MODEL
        else:
            self.base_url = base_url or s.anthropic_base_url
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
        self._cache = (ResponseCache(redis_manager or RedisManager(settings=s))
                       if enable_cache and s.llm_cache_enabled else None)
        self.enable_retry = enable_retry
        self._idle_timeout_s = LLM_IDLE_TIMEOUT_S[self.backend]
        # max_retries=0: _with_retries is the one retry layer (the SDK's would also retry
        # timeouts, multiplying the deadline of a frozen server).
        self._sdk = anthropic.Anthropic(
            api_key=self.api_key, base_url=self.base_url, max_retries=0,
            timeout=anthropic.Timeout(self._idle_timeout_s, connect=CONNECT_TIMEOUT_S),
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
                 max_tokens: int = 1024, temperature: float = 0.0,
                 deadline_s: float | None = None, use_cache: bool = True) -> LLMResult:
        """One reply. It ends within ``deadline_s`` (default LLM_CALL_DEADLINE_S), retries
        included; a backend that is down, frozen or overloaded is a ServiceError naming llm.
        ``use_cache=False`` asks the model afresh (and does not store the reply)."""
        messages = _as_messages(messages)
        start = time.perf_counter()
        cache = self._cache if use_cache else None
        key = cache_key(model=self.model, backend=self.backend, base_url=self.base_url, system=system,
                        messages=messages, max_tokens=max_tokens, temperature=temperature)
        if cache is not None and (hit := cache.get(key)):
            result = replace(LLMResult(**hit), cache_hit=True, cost_usd=0.0,
                             latency_s=time.perf_counter() - start)
            self._observe(result, "cache_hit")
            return result
        reservation = self._reserve(messages, system, max_tokens)
        deadline = time.monotonic() + (deadline_s or LLM_CALL_DEADLINE_S)
        request = self._request(messages, system, max_tokens, temperature)
        try:
            with self._errors_as_contract(deadline_s or LLM_CALL_DEADLINE_S), self._breaker_guard():
                response = self._with_retries(self._send_once, deadline, request)
        except BaseException:  # whatever ended it, the reservation is settled: failed calls are not billed
            LEDGER.settle(self.settings, reservation, 0.0)
            self._observe_failure(time.perf_counter() - start)
            raise
        text = "".join(block.text for block in response.content if block.type == "text")
        input_tokens = _prompt_tokens(response.usage)
        result = LLMResult(
            text=text, model=self.model, backend=self.backend,
            input_tokens=input_tokens, output_tokens=response.usage.output_tokens,
            cost_usd=self.price.cost(input_tokens, response.usage.output_tokens),
            latency_s=time.perf_counter() - start, cache_hit=False, stop_reason=response.stop_reason,
        )
        LEDGER.settle(self.settings, reservation, result.cost_usd)
        if cache is not None:
            cache.set(key, asdict(result))
        self._observe(result, "success")
        return result

    def stream(self, messages: list[dict] | str, *, system: str | None = None,
               max_tokens: int = 1024, temperature: float = 0.0) -> Iterator[str]:
        """Yield text as it arrives (no cache, no retry: text already given out cannot be
        taken back). Failures, including at connect, follow the same contract as complete()."""
        messages = _as_messages(messages)
        reservation = self._reserve(messages, system, max_tokens)
        start = time.perf_counter()
        request = self._request(messages, system, max_tokens, temperature)
        used = {"input": 0, "chars": 0}  # what an aborted stream has used so far
        final = None
        try:
            # the SDK sends the request in __enter__: it must be inside the guard and the breaker
            with self._errors_as_contract(LLM_CALL_DEADLINE_S), self._breaker_guard(), \
                    self._sdk.messages.stream(**request) as events:
                for text in events.text_stream:
                    used["input"] = events.current_message_snapshot.usage.input_tokens
                    used["chars"] += len(text)
                    yield text
                final = events.get_final_message()
        except DevMatrixError:
            self._observe_failure(time.perf_counter() - start)
            raise
        finally:  # stopped early (consumer closed it, or an error): settle what it used
            if final is None:
                out = math.ceil(used["chars"] / CHARS_PER_TOKEN_ESTIMATE)
                LEDGER.settle(self.settings, reservation, self.price.cost(used["input"], min(out, max_tokens)))
        usage = final.usage
        input_tokens = _prompt_tokens(usage)
        result = LLMResult("", self.model, self.backend, input_tokens, usage.output_tokens,
                           self.price.cost(input_tokens, usage.output_tokens),
                           time.perf_counter() - start, False, final.stop_reason)
        LEDGER.settle(self.settings, reservation, result.cost_usd)
        self._observe(result, "success")

    def _request(self, messages: list[dict], system: str | None, max_tokens: int, temperature: float) -> dict:
        """The Messages API body. Temperature goes to the local server only (0: greedy decoding;
        with the server's fixed seed the same request gets the same reply); current Claude
        models take their sampling defaults."""
        return {"model": self.model, "max_tokens": max_tokens, "messages": messages,
                **({"system": system} if system else {}),
                **({"extra_body": {"temperature": temperature}} if self.backend == "local" else {})}

    def breaker_status(self) -> dict[str, object]:
        return breakers.status(self.base_url)

    # --- one call path ----------------------------------------------------------------
    def _reserve(self, messages: list[dict], system: str | None, max_tokens: int) -> Reservation:
        chars = len(system or "") + sum(len(str(m.get("content", ""))) for m in messages)
        worst = self.price.cost(chars // CHARS_PER_TOKEN_ESTIMATE + 1 + PROMPT_OVERHEAD_TOKENS, max_tokens)
        return LEDGER.reserve(settings=self.settings, backend=self.backend, worst_case_usd=worst)

    def _send_once(self, deadline: float, request: dict):
        """One attempt, streamed: the idle timeout bounds each silence, ``deadline`` the whole reply."""
        read_s = max(0.1, min(self._idle_timeout_s, deadline - time.monotonic()))
        timeout = anthropic.Timeout(read_s, connect=min(CONNECT_TIMEOUT_S, read_s))
        with self._sdk.messages.stream(**request, timeout=timeout) as events:
            for _event in events:
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded
            return events.get_final_message()

    def _with_retries(self, attempt, deadline: float, request: dict):
        """The one retry layer: restarts (refused/reset connections) and 429/5xx are retried
        with backoff for LLM_RETRY_WINDOW_S from the first failure, within the call's deadline;
        a timeout never is (a frozen server stays frozen)."""
        if not self.enable_retry:
            return attempt(deadline, request)
        window_s = self.settings.llm_retry_window_s
        first_failure: list[float] = []

        def window_over(_state: tenacity.RetryCallState) -> bool:
            # The window opens at the first failure, not at the call: an attempt that streamed
            # for a while, or a process frozen (SIGSTOP) mid-call, must not use it up before
            # anything failed. It did (issue 22): a 15 s freeze of the API left the 12 s window
            # spent, and the first refused connection after it was final, "retried for 12 s".
            return time.monotonic() >= window_end()

        def window_end() -> float:
            first_failure[:] = first_failure or [time.monotonic()]
            return min(deadline, first_failure[0] + window_s)

        backoff = tenacity.wait_exponential(multiplier=LLM_RETRY_INITIAL_S, max=LLM_RETRY_MAX_WAIT_S)

        def wait(state: tenacity.RetryCallState) -> float:  # never sleep past the window's end
            return max(0.0, min(backoff(state), window_end() - time.monotonic()))

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_transient),
            stop=window_over,
            wait=wait,
            reraise=True,
        )
        for try_ in retrying:
            with try_:
                return attempt(deadline, request)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    @contextmanager
    def _breaker_guard(self) -> Iterator[None]:
        """The circuit breaker around one call. pybreaker's ``calling()`` runs the body outside
        the breaker's lock (its ``call()`` holds the lock for the whole call, which would
        serialise every LLM call of the process)."""
        if not self.enable_circuit_breaker:
            yield
            return
        with self._breaker.calling():
            yield

    @contextmanager
    def _errors_as_contract(self, deadline_s: float) -> Iterator[None]:
        """SDK and breaker errors become the one error contract: a backend that is down,
        frozen, overloaded or fenced off is ServiceError("llm"); a request or key it
        refuses is LLMError."""
        where = f"the {self.backend} backend at {self.base_url}"
        fix = (fix_for("llm", "LLM") if self.backend == "local"
               else f"check the network and {self.base_url} (ANTHROPIC_BASE_URL); https://status.anthropic.com")
        try:
            yield
        except pybreaker.CircuitBreakerError as error:
            status = self.breaker_status()
            raise CircuitOpen(
                f"circuit breaker for {self.base_url} is open (since {status['opened_at']},"
                f" {status['failures']} consecutive failures); the call was not sent",
                fix=f"check the backend (`invoke infra.status`); it retries by itself after"
                    f" {status['reset_timeout_s']} s, or reset it via the API",
            ) from error
        except _DeadlineExceeded as error:
            raise ServiceError("llm", f"{where} gave no complete reply within {deadline_s:.0f} s",
                               fix=fix) from error
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as error:
            raise ServiceError("llm", f"{where} went silent: no data within its read deadline"
                               f" ({self._idle_timeout_s:g} s between chunks, {deadline_s:.0f} s per call);"
                               " frozen or overloaded", fix=fix) from error
        except (anthropic.APIConnectionError, httpx2.TransportError) as error:
            # httpx2 errors: the SDK wraps failures before the reply starts, not those mid-stream
            window = self.settings.llm_retry_window_s
            retried = f" (retried for {window:g} s)" if self.enable_retry and window else ""
            raise ServiceError("llm", f"cannot reach {where}{retried}: {error}", fix=fix) from error
        except anthropic.AuthenticationError as error:
            raise LLMError(f"{self.backend} backend at {self.base_url} rejected the API key",
                           fix="check ANTHROPIC_API_KEY / LLM_LOCAL_API_KEY") from error
        except anthropic.APIStatusError as error:
            if _transient(error):
                raise ServiceError("llm", f"{where} answered {error.status_code}: {error.message}",
                                   fix=fix) from error
            raise LLMError(f"{self.backend} backend answered {error.status_code}: {error.message}",
                           fix="see the message: the request was refused") from error
        except anthropic.APIError as error:  # e.g. a reply that does not parse
            raise LLMError(f"{where} sent a reply the SDK could not read: {error}",
                           fix="retry; if it persists, the server does not speak the Messages API") from error

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


class _DeadlineExceeded(Exception):
    """The reply was still streaming when the call's deadline passed."""


def _transient(error: BaseException) -> bool:
    """Worth another attempt: a restart (refused/reset connection) or 408/409/429/5xx.
    A timeout is not: the server took the request and went silent."""
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        return False
    if isinstance(error, anthropic.APIConnectionError | httpx2.TransportError):
        return True  # refused, reset, or the server died mid-reply
    return isinstance(error, anthropic.APIStatusError) and (
        error.status_code in (408, 409, 429) or error.status_code >= 500)


def _prompt_tokens(usage) -> int:
    """Every prompt token, including those a server read from its prompt cache."""
    return (usage.input_tokens + (getattr(usage, "cache_read_input_tokens", None) or 0)
            + (getattr(usage, "cache_creation_input_tokens", None) or 0))


def _as_messages(messages: list[dict] | str) -> list[dict]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return messages


def create_llm_client(settings: Settings, **overrides: object) -> AnthropicClient:
    """The client for the configured backend (LLM_BACKEND, resolved)."""
    return AnthropicClient(settings=settings, **overrides)  # type: ignore[arg-type]


# The backend check asks a question with one right answer and checks the answer: a server
# that replies "I'm sorry…" (SmolLM2 does, to "Reply with: OK") is not answering.
CHECK_PROMPT = "What is 2 + 2? Answer with the number only."
CHECK_ANSWER = re.compile(r"(?<![\d.])4(?!\.?\d)")  # 4, not 42 or 4.5


def check_backend(settings: Settings) -> str:
    """One known-answer round trip (2 + 2): what happened, when the answer is 4. A server that is
    down, refuses the key or answers something else raises (ServiceError, LLMError), with its fix."""
    if settings.resolved_llm_backend == "local":
        readiness.llm(settings)  # a dead or frozen server fails here within the probe deadline
    with AnthropicClient(settings=settings, enable_cache=False) as client:
        result = client.complete(CHECK_PROMPT, max_tokens=16, deadline_s=LLM_CHECK_TIMEOUT_S)
    detail = (f"{client.backend} backend, model {client.model} at {client.base_url}: asked 2 + 2,"
              f" replied {result.text.strip()[:40]!r} in {result.latency_s:.2f} s"
              f" ({result.input_tokens}+{result.output_tokens} tokens, {usd(result.cost_usd)})")
    if not CHECK_ANSWER.search(result.text):
        raise LLMError(f"{detail}: not the answer 4: the server replies, but not to what was asked",
                       fix="check ANTHROPIC_MODEL / the local model file (`invoke infra.logs llm`)")
    return detail
