"""The paid tier: the real Anthropic API. Without a key nothing here runs, and says why.

Postgres, Redis, the RAG system, the workspaces and the agent are the shared fixtures
of tests/_fixtures/real_services.py; this file adds only what is paid.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient


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


@pytest.fixture(scope="session")
def real_anthropic_client(settings: Settings, anthropic_api_key: str) -> Iterator[AnthropicClient]:
    """The seed's client: the paid API at ANTHROPIC_BASE_URL, no cache (fresh answers), the SDK's
    retries, no breaker (a failure fails the test at once)."""
    with AnthropicClient(api_key=anthropic_api_key, model=settings.anthropic_model, enable_cache=False,
                         enable_retry=True, enable_circuit_breaker=False,
                         base_url=settings.anthropic_base_url, settings=settings) as client:
        yield client
