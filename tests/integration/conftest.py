"""Integration only: the LLM client is the configured backend (the local server here), and
which tests may run at the same time.

The real-service fixtures every tier shares (Postgres, Redis, RAG system, workspace,
agent) are in tests/_fixtures/real_services.py.

`nox -s integration` runs two pytest-xdist workers (`--dist loadgroup`). Every test on
the shared stack is in one group, so they still run one after another in one process:
their fixtures clean up by "rows after my first id" and "every `test:*` key", and
test_seed_public_api checks that nothing at all was left behind. A test on a stack of
its own (scratch servers on free ports and state dirs: backup, restore, cleanup, the
supervisor's heal, busy ports) shares nothing with them but the CPU and the read-only
LLM server, so those run on the other worker meanwhile, one group per module so a
module's scratch stack is started once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient
from devmatrix.state import RedisManager


@pytest.fixture
def real_anthropic_client(settings: Settings, real_redis_manager: RedisManager) -> Iterator[AnthropicClient]:
    """The configured backend (the local server here), with its Redis cache under `test:`."""
    with AnthropicClient(settings=settings, redis_manager=real_redis_manager) as client:
        yield client


# The fixtures that start a scratch stack (tests/integration/ops): a test using one touches no shared server.
OWN_STACK_FIXTURES = frozenset({"stack", "clean", "heal", "scratch_stack"})
SHARED_STACK_GROUP = "shared-stack"


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    here = Path(__file__).parent
    for item in items:
        if here not in Path(item.fspath).parents:
            continue
        own_stack = OWN_STACK_FIXTURES & set(getattr(item, "fixturenames", ()))
        group = f"own-stack:{item.module.__name__}" if own_stack else SHARED_STACK_GROUP
        item.add_marker(pytest.mark.xdist_group(group))
