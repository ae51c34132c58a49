"""The seed's §2.1 fixtures on the real services, for every tier (integration, smoke, real_api).

Registered once in tests/conftest.py (`pytest_plugins`): a fixture in a tier's own
conftest.py is invisible to the sibling tiers, which is how tests/real_api once
lost `real_workspace_manager`. The bodies are the seed's, called with its public
signatures, with four deliberate differences:

- values come from the `settings` fixture (.env.test), not `os.getenv` defaults;
- cleanup removes only what the test made (the log rows after the test's first id,
  the `test:*` keys, the test's collection, the workspaces) — never `TRUNCATE`;
- the RAG collection is named after `request.node` (the seed's `pytest.current_test`
  does not exist), with a random suffix so a crashed run cannot leak into the next;
- the embedding model is loaded once per session, with a cache of its own, so the
  seed's cache test starts cold and every test does not pay the model's load.

`real_anthropic_client` is each tier's own (tests/integration: the local server with
a Redis cache; tests/real_api: the paid API, no cache); `real_agent` uses whichever
the test's tier provides.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from devmatrix.agents import CodeGenerationAgent
from devmatrix.config import Settings
from devmatrix.rag import EmbeddingModel, create_embedding_model, create_retriever, create_vector_store
from devmatrix.state import PostgresManager, RedisManager
from devmatrix.workspace import WorkspaceManager


@pytest.fixture
def real_postgres_manager(settings: Settings) -> Iterator[PostgresManager]:
    manager = PostgresManager(host=settings.postgres_host, port=settings.postgres_port,
                              database=settings.postgres_db, user=settings.postgres_user,
                              password=settings.postgres_password.get_secret_value())
    (before,) = manager.execute("SELECT COALESCE(MAX(id), 0) AS id FROM code_generation_logs")
    yield manager
    manager.execute("DELETE FROM code_generation_logs WHERE id > %s", (before["id"],))
    manager.close()


@pytest.fixture
def real_redis_manager(settings: Settings) -> Iterator[RedisManager]:
    manager = RedisManager(host=settings.redis_host, port=settings.redis_port,
                           password=settings.redis_password.get_secret_value(), prefix="test:")
    yield manager
    for key in manager.client.scan_iter(match="test:*"):
        manager.client.delete(key)
    manager.close()


@pytest.fixture(scope="session")
def real_embedding_model(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddingModel]:
    """all-MiniLM-L6-v2 with an embedding cache of this session's own (it starts empty)."""
    cache_dir = tmp_path_factory.mktemp("embedding_cache")
    model = create_embedding_model(settings.model_copy(update={"rag_cache_dir": cache_dir}))
    yield model
    model.close()


@pytest.fixture
def real_rag_system(request: pytest.FixtureRequest, real_embedding_model: EmbeddingModel) -> Iterator[dict]:
    """The seed's dict: embedding_model, vector_store (a `test_*` collection) and retriever."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:40].strip("_-")
    vector_store = create_vector_store(real_embedding_model, collection_name=f"test_{name}_{uuid.uuid4().hex[:6]}")
    retriever = create_retriever(vector_store)
    yield {"embedding_model": real_embedding_model, "vector_store": vector_store, "retriever": retriever}
    vector_store.delete_collection()
    vector_store.close()


@pytest.fixture
def real_workspace() -> Iterator[Path]:
    """A temporary git repository with the seed's initial commit."""
    path = Path(tempfile.mkdtemp(prefix="devmatrix_test_"))
    with git.Repo.init(path, initial_branch="main") as repo:
        with repo.config_writer() as config:
            config.set_value("user", "name", "DevMatrix Test")
            config.set_value("user", "email", "test@devmatrix.local")
        (path / ".gitkeep").touch()
        repo.index.add([".gitkeep"])
        repo.index.commit("chore: init test workspace")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def real_workspace_manager(real_workspace: Path, settings: Settings) -> Iterator[WorkspaceManager]:
    """The seed's manager on `real_workspace`.

    The seed's tests pass only `workspace_id` to the agent and the workflow, which then
    write to WORKSPACE_DIR/<id> (or <id>_<n>); what the test created there is removed too.
    """
    workspace_id = real_workspace.name
    existing = set(settings.workspace_dir.glob(f"{workspace_id}*"))
    with WorkspaceManager(workspace_id=workspace_id, base_path=real_workspace) as manager:
        yield manager
    for made in set(settings.workspace_dir.glob(f"{workspace_id}*")) - existing:
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def real_agent(settings: Settings, real_postgres_manager: PostgresManager,
               real_anthropic_client) -> CodeGenerationAgent:
    """The code-generation agent on the tier's LLM client, logging to the test's Postgres."""
    return CodeGenerationAgent(settings=settings, postgres_manager=real_postgres_manager,
                               llm_client=real_anthropic_client)
