"""The API in-process through Starlette's TestClient (real ASGI, no server, no services)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from devmatrix.api import create_app
from devmatrix.config import Settings

TOKEN = "unit-test-token-5b1f"


@pytest.fixture
def api_settings(tmp_path) -> Settings:
    """Every service on a port of its own below 5 (nothing listens there): a unit test can never
    reach a real one, and this app's LLM circuit breaker is its own."""
    return Settings(api_token=TOKEN, llm_port=1, postgres_port=2, redis_port=3, chromadb_port=4,
                    workspace_dir=tmp_path / "workspaces")


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings, max_body_bytes=1024)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
