"""Benchmark the LLM path on the configured backend (local here).

1. the seed's performance test: 3 generations end to end (CodeGenerationAgent),
   average and max latency, output tokens/s;
2. AnthropicClient overhead against a raw SDK call to the same server (target ≤ 1.05×);
3. a response-cache hit's latency.
Usage: python benchmarks/bench_llm.py
"""

from __future__ import annotations

import statistics
import tempfile
import time

import anthropic

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.bench_report import write_section
from devmatrix.config import load_settings
from devmatrix.deadlines import LLM_IDLE_TIMEOUT_S
from devmatrix.llm import AnthropicClient
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager

PROMPT = "Write a Python function that adds two numbers."
ROUNDS = 7
MAX_TOKENS = 64


def seed_performance(settings, client) -> dict:
    postgres = PostgresManager(settings=settings)
    agent = CodeGenerationAgent(settings=settings, postgres_manager=postgres, llm_client=client)
    latencies, tokens, log_ids = [], 0, []
    try:
        with tempfile.TemporaryDirectory(prefix="bench_llm_") as root:
            for i in range(3):
                result = agent.generate(f"Create a simple add function (iteration {i})",
                                        workspace_id="bench", base_path=root)
                latencies.append(result["latency_s"])
                tokens += result["usage"]["output_tokens"]
                log_ids.append(result["log_id"])
    finally:
        postgres.execute("DELETE FROM code_generation_logs WHERE id = ANY(%s)",
                         ([i for i in log_ids if i is not None],))
        postgres.close()
    return {"avg": statistics.mean(latencies), "max": max(latencies),
            "tokens_per_s": tokens / sum(latencies)}


def overhead(settings, client) -> tuple[float, float]:
    """Median seconds of the same uncached call, streamed by both: raw SDK, then AnthropicClient."""
    raw = anthropic.Anthropic(api_key=client.api_key, base_url=client.base_url,
                              timeout=LLM_IDLE_TIMEOUT_S[client.backend], max_retries=0)
    raw_times, client_times = [], []
    try:
        for _ in range(ROUNDS):  # interleaved, so drift in the server hits both alike
            start = time.perf_counter()
            with raw.messages.stream(model=client.model, max_tokens=MAX_TOKENS,
                                     messages=[{"role": "user", "content": PROMPT}],
                                     extra_body={"temperature": 0.0}) as events:
                events.get_final_message()
            raw_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            client.complete(PROMPT, max_tokens=MAX_TOKENS)
            client_times.append(time.perf_counter() - start)
    finally:
        raw.close()
    return statistics.median(raw_times), statistics.median(client_times)


def cache_hit_latency(settings) -> float:
    redis_manager = RedisManager(settings=settings, prefix="bench:")
    try:
        with AnthropicClient(settings=settings, redis_manager=redis_manager) as cached:
            cached.complete(PROMPT, max_tokens=MAX_TOKENS)  # fill
            times = []
            for _ in range(50):
                start = time.perf_counter()
                assert cached.complete(PROMPT, max_tokens=MAX_TOKENS).cache_hit
                times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        for key in redis_manager.client.scan_iter(match="bench:*"):
            redis_manager.client.delete(key)
        redis_manager.close()


def main() -> None:
    settings = load_settings()
    with AnthropicClient(settings=settings, enable_cache=False) as client:
        perf = seed_performance(settings, client)
        raw_s, client_s = overhead(settings, client)
    hit_s = cache_hit_latency(settings)
    body = f"""
Backend `{client.backend}`, model `{client.model}` at {client.base_url}.

| measure | value | target |
| --- | ---: | --- |
| seed perf test: 3 generations, average latency | {perf['avg']:.2f} s | < 40 s (seed, paid API) |
| seed perf test: max latency | {perf['max']:.2f} s | < 60 s |
| output tokens/s over those generations | {perf['tokens_per_s']:.0f} | |
| raw SDK call, median of {ROUNDS} ({MAX_TOKENS} max tokens) | {raw_s * 1000:.0f} ms | |
| AnthropicClient, same call, no cache | {client_s * 1000:.0f} ms | |
| overhead ratio | {client_s / raw_s:.3f}× | ≤ 1.05× |
| response-cache hit, median of 50 | {hit_s * 1000:.2f} ms | |

A generation is three model calls or more (code, review score, at most one repair).
The overhead is the cache-key hash, budget check, breaker and metrics around the
same SDK call; the model's time dominates both columns.
"""
    write_section("llm", "LLM client and code generation", body)
    print(body)


if __name__ == "__main__":
    main()
