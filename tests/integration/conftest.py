"""Integration only: the LLM client is the configured backend (the local server here).

The real-service fixtures every tier shares (Postgres, Redis, RAG system, workspace,
agent) are in tests/_fixtures/real_services.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient
from devmatrix.state import RedisManager


@pytest.fixture
def real_anthropic_client(settings: Settings, real_redis_manager: RedisManager) -> Iterator[AnthropicClient]:
    """The configured backend (the local server here), with its Redis cache under `test:`."""
    with AnthropicClient(settings=settings, redis_manager=real_redis_manager) as client:
        yield client
