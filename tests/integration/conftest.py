"""Integration only: the LLM client is the configured backend (the local server here).

The real-service fixtures every tier shares (Postgres, Redis, RAG system, workspace,
agent) are in tests/_fixtures/real_services.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devmatrix.config import Settings, load_settings
from devmatrix.llm import AnthropicClient
from devmatrix.state import RedisManager

# The review gate this tier runs with, whatever .env.test says. SmolLM2-135M's review
# scores are close to noise, so a gate above 0 would make the pipeline's tests depend on
# the model's taste; this tier checks the pipeline. Tests of the gate set their own.
INTEGRATION_MIN_SCORE = 0.0


@pytest.fixture(scope="session")
def settings() -> Settings:
    """.env.test, with this tier's explicit review gate (APPROVAL_MIN_SCORE)."""
    return load_settings().model_copy(update={"approval_min_score": INTEGRATION_MIN_SCORE})


@pytest.fixture
def real_anthropic_client(settings: Settings, real_redis_manager: RedisManager) -> Iterator[AnthropicClient]:
    """The configured backend (the local server here), with its Redis cache under `test:`."""
    with AnthropicClient(settings=settings, redis_manager=real_redis_manager) as client:
        yield client
