"""RAG through its user surfaces: `invoke rag.*` on the real collection, and the agent with enable_rag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _fixtures.waits import ONE_GENERATION_TEST_TIMEOUT_S
from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.llm import AnthropicClient
from devmatrix.rag import Retriever

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
INVOKE = str(Path(sys.executable).parent / "invoke")


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([INVOKE, *args], capture_output=True, text=True, timeout=110, check=False,
                          stdin=subprocess.DEVNULL)


def test_rag_query_json_prints_the_expected_example_with_its_score():
    run = invoke("rag.query", "memoized fibonacci", "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["results"][0]["id"] == "fibonacci_memo" and found["results"][0]["similarity"] > 0.6


def test_rag_seed_again_changes_nothing_and_stats_report_the_corpus():
    seeded = invoke("rag.seed", "--json")
    assert seeded.returncode == 0 and json.loads(seeded.stdout)["status"] == "SKIPPED"
    stats = json.loads(invoke("rag.stats", "--json").stdout)
    assert stats["count"] >= stats["corpus"] >= 30 and stats["missing_or_stale"] == []


def test_an_empty_query_is_a_clear_failure():
    run = invoke("rag.query", " ")
    assert run.returncode == 2 and "the text argument of rag.query is empty" in run.stderr and "fix:" in run.stderr


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)  # a whole generation, which the agent bounds
def test_the_agent_with_enable_rag_puts_retrieved_examples_in_the_prompt(
        settings, seeded_store, real_redis_manager, real_postgres_manager, real_workspace_manager, llm_recorder):
    retriever = Retriever(seeded_store, top_k=3, threshold=0.3, mmr_lambda=0.5)
    request = "Create a fibonacci function with memoization"
    with AnthropicClient(settings=settings.model_copy(update={"llm_port": llm_recorder.port}),
                         redis_manager=real_redis_manager) as recorded_client:
        agent = CodeGenerationAgent(settings=settings, postgres_manager=real_postgres_manager,
                                    llm_client=recorded_client, retriever=retriever)
        result = agent.generate(request, workspace_id=real_workspace_manager.workspace_id,
                                base_path=str(real_workspace_manager.root), git_enabled=False, enable_rag=True)
    retrieved = retriever.retrieve(request).relevant  # at or above the retriever's threshold (0.3)
    assert "fibonacci_memo" in [example.id for example in retrieved]
    assert result["rag_examples"] == len(retrieved), result["error"]
    generation_prompt = llm_recorder.prompts()[0]  # the first call generates; the next ones review
    for example in retrieved:
        assert example.document.strip() in generation_prompt, f"example {example.id} was not sent"
    assert result["log_id"] is not None
