"""The paid tier: the real Anthropic API. Without a key nothing here runs, and says why.

Postgres, Redis, the RAG system, the workspaces and the agent are the shared fixtures
of tests/_fixtures/real_services.py; this file adds only what is paid.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient
from devmatrix.llm import client as llm_client
from devmatrix.llm.ledger import Ledger

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def anthropic_api_key(settings: Settings) -> str:
    if settings.anthropic_api_key is None:
        pytest.skip("NOT RUN: ANTHROPIC_API_KEY is not set; the real_api tier calls the paid API")
    return settings.anthropic_api_key.get_secret_value()


@pytest.fixture(scope="session", autouse=True)
def _paid_backend(settings: Settings, anthropic_api_key: str) -> None:
    """The seed's agents pick their backend from the settings: never let them reach the local server."""
    if settings.resolved_llm_backend != "anthropic":
        pytest.fail(f"LLM_BACKEND={settings.llm_backend} sends the agents' calls to the local server,"
                    " but real_api tests the paid API — fix: unset LLM_BACKEND (or set it to anthropic),"
                    " or run `nox -s real_api`", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _double_budget(request: pytest.FixtureRequest, settings: Settings, _paid_backend: None) -> Iterator[None]:
    """With --llm-double (nox -s real_api_contract), the calls go to the double, and count in a
    ledger of this session's own (`test:` keys): the double's dollars are not spent, so they
    must not use up today's paid budget (ANTHROPIC_API_MAX_CALLS, LLM_BUDGET_USD) on this Redis.
    The budgets themselves are still enforced, on that ledger."""
    if not request.config.getoption("--llm-double"):
        yield
        return
    host = urlsplit(settings.anthropic_base_url).hostname
    if host not in LOOPBACK:
        pytest.fail(f"--llm-double, but ANTHROPIC_BASE_URL={settings.anthropic_base_url} is not on this machine:"
                    " calls to it would not count in the paid budget — fix: drop --llm-double for the paid"
                    " API (`nox -s real_api`), or point ANTHROPIC_BASE_URL at the double", pytrace=False)
    patch = pytest.MonkeyPatch()
    patch.setattr(llm_client, "LEDGER", Ledger(prefix=f"test:llm-double:budget:{uuid.uuid4().hex[:8]}"))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def real_anthropic_client(settings: Settings, anthropic_api_key: str) -> Iterator[AnthropicClient]:
    """The seed's client: the paid API at ANTHROPIC_BASE_URL, no cache (fresh answers), the SDK's
    retries, no breaker (a failure fails the test at once)."""
    with AnthropicClient(api_key=anthropic_api_key, model=settings.anthropic_model, enable_cache=False,
                         enable_retry=True, enable_circuit_breaker=False,
                         base_url=settings.anthropic_base_url, settings=settings) as client:
        yield client
