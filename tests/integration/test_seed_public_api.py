"""The plan's own test code against devmatrix, on the real servers: its public API as written.

- §4.1 (RAG with the real Chroma server): the plan's three test bodies, with `src.`
  imports become `devmatrix.`.
- §2.1 (fixtures): the shared fixtures of tests/_fixtures/real_services.py are the
  plan's bodies; here each is checked for the real resource it yields, and the module
  checks that they left nothing behind.
- §1.4, §2.2, §4.2: the plan's constructors and calls, with the local backend's key
  (the paid cases themselves are in tests/real_api/).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from _fixtures.waits import ONE_GENERATION_TEST_TIMEOUT_S
from devmatrix.agents import CodeGenerationAgent, OrchestratorAgent
from devmatrix.config import Settings
from devmatrix.errors import RAGError
from devmatrix.llm import AnthropicClient
from devmatrix.llm._constants import LOCAL_MODEL
from devmatrix.rag import (
    RetrievalStrategy,
    create_embedding_model,
    create_retriever,
    create_vector_store,
)
from devmatrix.state import PostgresManager, RedisManager, SharedScratchpad
from devmatrix.workflows import MultiAgentWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.real_services]


def _made_by_tests(settings: Settings, store, postgres: PostgresManager, redis_manager: RedisManager) -> dict:
    """What test fixtures create, as it stands now."""
    return {
        "collections": {c.name for c in store.client.list_collections() if c.name.startswith("test_")},
        "workspaces": {p.name for p in settings.workspace_dir.glob("devmatrix_test_*")},
        "redis keys": set(redis_manager.client.scan_iter(match="test:*")),
        "log rows": {r["id"] for r in postgres.execute("SELECT id FROM code_generation_logs")},
    }


@pytest.fixture(scope="module", autouse=True)
def _nothing_left_behind(settings: Settings) -> Iterator[None]:
    """After the module: no `test_*` collection, workspace, `test:*` key or log row it made."""
    postgres, redis_manager = PostgresManager(settings=settings), RedisManager(settings=settings)
    embedding_model = create_embedding_model(settings)
    store = create_vector_store(embedding_model, create=False)
    try:
        before = _made_by_tests(settings, store, postgres, redis_manager)
        yield
        after = _made_by_tests(settings, store, postgres, redis_manager)
    finally:
        store.close()
        embedding_model.close()
        postgres.close()
        redis_manager.close()
    assert {what: after[what] - before[what] for what in after} == {what: set() for what in after}


# --- §4.1, as written ---------------------------------------------------------------
@pytest.mark.real_services
class TestRAGRealChromaDB:
    """RAG tests with real ChromaDB (no mocks)."""

    def test_indexing_and_retrieval_real(self, real_rag_system):
        """Test full indexing and retrieval cycle."""
        vector_store = real_rag_system["vector_store"]
        retriever = real_rag_system["retriever"]

        # Index examples
        examples = [
            ("def add(a, b): return a + b", {"language": "python", "pattern": "arithmetic"}),
            ("def subtract(a, b): return a - b", {"language": "python", "pattern": "arithmetic"}),
            ("def multiply(a, b): return a * b", {"language": "python", "pattern": "arithmetic"}),
            ("def authenticate(user, pw): return check_password(user, pw)", {"language": "python", "pattern": "auth"}),
        ]

        for code, metadata in examples:
            vector_store.add_example(code, metadata)

        # Verify count
        assert vector_store.count() == 4

        # Test retrieval
        results = retriever.retrieve("addition function", top_k=2)

        assert len(results) == 2
        assert "add" in results[0].code
        assert results[0].similarity > 0.6

    def test_mmr_strategy_real(self, real_rag_system):
        """Test MMR retrieval strategy for diversity."""
        vector_store = real_rag_system["vector_store"]

        # Index similar examples
        for i in range(5):
            vector_store.add_example(
                f"def add_{i}(a, b): return a + b",
                {"language": "python", "version": i}
            )

        # Retrieve with MMR
        retriever = real_rag_system["retriever"]
        results = retriever.retrieve(
            "addition function",
            top_k=3,
            strategy=RetrievalStrategy.MMR
        )

        assert len(results) == 3
        # Results should be diverse (not all identical)
        versions = [r.metadata.get("version") for r in results]
        assert len(set(versions)) > 1  # At least 2 different versions

    def test_persistent_cache_real(self, real_rag_system):
        """Test persistent embedding cache."""
        embedding_model = real_rag_system["embedding_model"]

        query = "test query for caching"

        # First embedding (cache miss)
        start = time.time()
        emb1 = embedding_model.embed_text(query)
        time_uncached = time.time() - start

        # Second embedding (cache hit)
        start = time.time()
        emb2 = embedding_model.embed_text(query)
        time_cached = time.time() - start

        # Verify cache hit is faster
        assert time_cached < time_uncached / 2, "Cache should be at least 2x faster"

        # Verify embeddings are identical
        assert emb1 == emb2

        # Verify cache stats
        if hasattr(embedding_model, 'cache'):
            stats = embedding_model.cache.get_stats()
            assert stats.hit_rate > 0


# --- §4.1's names beyond its bodies -------------------------------------------------------
def test_add_example_is_idempotent_and_names_bad_metadata(real_rag_system):
    store = real_rag_system["vector_store"]
    first = store.add_example("def square(x): return x * x", {"pattern": "arithmetic"})
    again = store.add_example("def square(x): return x * x", {"pattern": "math"})
    assert first == again and store.count() == 1
    assert store.add_example("def cube(x): return x ** 3") != first  # metadata is optional
    assert [h.metadata for h in real_rag_system["retriever"].retrieve("square a number", top_k=1)] == [
        {"pattern": "math"}]
    with pytest.raises(RAGError, match=r"cannot index the example in 'test_.*got \{'b': 1\}.* fix: metadata"):
        store.add_example("def f(): pass", {"nested": {"b": 1}})


def test_the_seed_corpus_check_of_section_1_4(settings):
    """§1.4: the configured collection holds more than 10 examples, retrieved with a score."""
    embedding_model = create_embedding_model()  # no argument: the settings are read as everywhere
    assert embedding_model.settings.chromadb_port == settings.chromadb_port
    vector_store = create_vector_store(embedding_model, collection_name=settings.chromadb_collection)
    try:
        assert vector_store.count() > 10
        results = create_retriever(vector_store).retrieve("authentication function", top_k=3)
        assert all(0 < r.similarity <= 1 and r.code for r in results)
    finally:
        vector_store.close()
        embedding_model.close()


# --- §2.1's fixtures: the real resources they yield ---------------------------------------
def test_the_section_2_1_fixtures_yield_real_resources(real_postgres_manager, real_redis_manager,
                                                         real_workspace, real_workspace_manager,
                                                         real_rag_system):
    assert real_postgres_manager.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'")
    real_redis_manager.client.set("test:seed_fixture", "1")  # removed by the fixture (checked above)
    assert real_redis_manager.client.get("test:seed_fixture") == "1"
    assert [c.message for c in real_workspace_manager.repo.iter_commits()] == ["chore: init test workspace"]
    assert (real_workspace_manager.workspace_id, real_workspace_manager.root) == (real_workspace.name,
                                                                                real_workspace.resolve())
    store = real_rag_system["vector_store"]
    assert store.collection_name.startswith("test_") and store.count() == 0
    assert real_rag_system["retriever"].store is store
    assert real_rag_system["embedding_model"] is store.embedding_model


# --- §2.1 / §2.2 / §4.2 constructors, as the plan calls them ------------------------------
def test_the_seeds_client_signature_answers_on_the_local_backend(settings):
    with AnthropicClient(api_key=settings.llm_local_api_key.get_secret_value(), model=LOCAL_MODEL,
                         enable_cache=False, enable_retry=True, enable_circuit_breaker=False,
                         settings=settings) as client:
        reply = client.complete("Reply with: OK", max_tokens=8)
    assert reply.backend == "local" and reply.output_tokens > 0 and reply.cost_usd == 0.0


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)  # a whole generation, which the agent bounds
def test_the_seeds_agent_signature_generates_into_workspace_dir(settings, real_postgres_manager,
                                                               real_workspace_manager):
    """§2.2's agent, built from a key; like the plan, `generate` gets only the workspace id."""
    agent = CodeGenerationAgent(api_key=settings.llm_local_api_key.get_secret_value(),
                                postgres_manager=real_postgres_manager, enable_cache=False)
    try:
        assert agent.client.base_url == settings.llm_base_url  # this stack's server, from .env.test
        result = agent.generate(user_request="Create a function that returns the larger of two numbers",
                                workspace_id=real_workspace_manager.workspace_id, git_enabled=True,
                                auto_approve=True)
    finally:
        # The agent built its client: left to the garbage collector, its socket may be finalized
        # first and warn "unclosed socket" inside whichever later test the collector runs in.
        agent.close()
    row = real_postgres_manager.get_generation(result["log_id"])
    assert row is not None and row["workspace_id"] == real_workspace_manager.workspace_id
    assert (result["backend"], result["model"]) == ("local", LOCAL_MODEL)
    assert result["usage"]["input_tokens"] > 0 and result["cache_hit"] is False
    assert (settings.workspace_dir / real_workspace_manager.workspace_id / ".git").is_dir()


def test_the_seeds_workflow_signatures_wire_one_client_through(settings, real_postgres_manager,
                                                              real_redis_manager):
    """§4.2's fixture: scratchpad, orchestrator from a key, workflow from both."""
    scratchpad = SharedScratchpad(redis_manager=real_redis_manager, postgres_manager=real_postgres_manager)
    orchestrator = OrchestratorAgent(api_key=settings.llm_local_api_key.get_secret_value())
    workflow = MultiAgentWorkflow(orchestrator=orchestrator, scratchpad=scratchpad)
    assert (orchestrator.client.backend, orchestrator.client.base_url) == ("local", settings.llm_base_url)
    assert workflow.agent.client is orchestrator.client  # every specialist uses the same client
    assert workflow.agent.postgres is real_postgres_manager
    orchestrator.client.close()
