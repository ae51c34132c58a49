"""Benchmark the multi-agent workflow: N independent tasks, serial vs parallel, local backend.

The speed-up of parallel branches is bounded twice: by the workflow's concurrency
and by the backend's own throughput (the local server has LOCAL_PARALLEL_SLOTS
slots sharing LOCAL_THREADS threads on this 2-core machine). Both are reported:
the workflow's wall time, and the backend's tokens/s in each mode.
Usage: python benchmarks/bench_workflow.py [N]
"""

from __future__ import annotations

import sys
import time
import uuid

from devmatrix.agents.orchestrator import OrchestratorAgent, PlanResult
from devmatrix.agents.plan import Plan
from devmatrix.bench_report import write_section
from devmatrix.config import load_settings
from devmatrix.llm import create_llm_client
from devmatrix.llm._constants import LOCAL_PARALLEL_SLOTS, LOCAL_THREADS
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import SharedScratchpad
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

TOPICS = ("slug generation", "email validation", "date formatting", "temperature conversion",
          "word counting", "palindrome checking")


class FixedPlanner(OrchestratorAgent):
    """The same N independent tasks every run, so serial and parallel do identical work."""

    def __init__(self, n: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fixed = Plan.model_validate({"tasks": [
            {"id": f"t{i}", "type": "implementation",
             "description": f"A small Python utility function for {TOPICS[i % len(TOPICS)]}"}
            for i in range(n)]})

    def plan(self, user_request: str) -> PlanResult:
        return PlanResult(self.fixed, "explicit")


def run(n: int, concurrency: int, settings, client, pad) -> dict:
    flow = MultiAgentWorkflow(FixedPlanner(n, settings=settings, llm_client=client), pad,
                              settings=settings, max_concurrency=concurrency)
    start = time.perf_counter()
    result = flow.execute(f"bench {n} tasks", f"bench-{uuid.uuid4().hex[:8]}")
    wall = time.perf_counter() - start
    pad.clear(result["workflow_id"])
    pad.postgres.execute("DELETE FROM workflows WHERE workflow_id = %s", (result["workflow_id"],))
    tokens = result["usage"]["output_tokens"]
    return {"wall": wall, "tokens": tokens, "ok": len(result["completed_tasks"]),
            "task_sum": sum(t["duration_s"] or 0 for t in result["completed_tasks"] + result["failed_tasks"])}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    # the scheduling is measured, not the local model's review scores: every task passes the gate
    settings = load_settings().model_copy(update={"approval_min_score": 0.0})
    # no response cache: the second mode must really generate again
    client = create_llm_client(settings, enable_cache=False)
    postgres, redis_manager = PostgresManager(settings=settings), RedisManager(settings=settings)
    pad = SharedScratchpad(redis_manager, postgres)
    try:
        results = {c: run(n, c, settings, client, pad) for c in (1, 2, n)}
    finally:
        client.close()
        postgres.close()
        redis_manager.close()
    serial = results[1]["wall"]
    rows = ["| concurrency | wall (s) | speed-up | sum of task times (s) | tasks ok | output tokens/s |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c, r in results.items():
        rows.append(f"| {c} | {r['wall']:.1f} | {serial / r['wall']:.2f}× | {r['task_sum']:.1f} |"
                    f" {r['ok']}/{n} | {r['tokens'] / r['wall']:.0f} |")
    body = f"""
{n} independent implementation tasks (a fixed plan), backend `{client.backend}` (model
`{client.model}`, {LOCAL_PARALLEL_SLOTS} server slots, {LOCAL_THREADS} thread(s)), no response cache.

{chr(10).join(rows)}

The ideal speed-up is min(N, concurrency); the backend caps it: with one CPU thread
per server and two cores, parallel requests share the same compute, so output
tokens/s — the backend's own throughput — is the real bound. The sum of task times
exceeding the wall time is the overlap the workflow achieves.
"""
    write_section("workflow", "Multi-agent workflow: serial vs parallel", body)
    print(body)


if __name__ == "__main__":
    main()
