"""Seed §2.1 fixtures, on real services: Postgres, Redis, git, the configured LLM backend.

Each cleans up what its test made: the log rows it wrote, `test:*` keys, temp dirs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.workspace import WorkspaceManager


@pytest.fixture
def real_postgres_manager(settings: Settings) -> Iterator[PostgresManager]:
    manager = PostgresManager(settings=settings)
    (before,) = manager.execute("SELECT COALESCE(MAX(id), 0) AS id FROM code_generation_logs")
    yield manager
    manager.execute("DELETE FROM code_generation_logs WHERE id > %s", (before["id"],))
    manager.close()


@pytest.fixture
def real_redis_manager(settings: Settings) -> Iterator[RedisManager]:
    manager = RedisManager(settings=settings, prefix="test:")
    yield manager
    for key in manager.client.scan_iter(match="test:*"):
        manager.client.delete(key)
    manager.close()


@pytest.fixture
def real_anthropic_client(settings: Settings, real_redis_manager: RedisManager) -> Iterator[AnthropicClient]:
    """The configured backend (the local server here), with its Redis cache."""
    with AnthropicClient(settings=settings, redis_manager=real_redis_manager) as client:
        yield client


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
    with WorkspaceManager(workspace_id=real_workspace.name, base_path=real_workspace,
                          settings=settings) as manager:
        yield manager
