"""Integration only: the LLM client is the configured backend (the local server here), and
which tests may run at the same time.

The real-service fixtures every tier shares (Postgres, Redis, RAG system, workspace,
agent) are in tests/_fixtures/real_services.py.

`nox -s integration` runs two pytest processes at once. Every test on the shared stack
runs in one of them, one after another as before: their fixtures clean up by "rows
after my first id" and "every `test:*` key", and test_seed_public_api checks that
nothing at all was left behind. A test on a stack of its own (scratch servers on free
ports and state dirs: backup, restore, cleanup, the supervisor's heal, busy ports) shares
nothing with them but the CPU and the read-only LLM server: it is marked `own_stack`
here and runs in the other process meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


# The fixtures that start a scratch stack (tests/integration/ops): a test using one touches no shared server.
OWN_STACK_FIXTURES = frozenset({"stack", "clean", "heal", "scratch_stack"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents and OWN_STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.own_stack)
