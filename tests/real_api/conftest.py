"""The paid tier: the real Anthropic API. Without a key nothing here runs, and says why."""

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


@pytest.fixture(scope="session")
def real_anthropic_client(settings: Settings, anthropic_api_key: str) -> Iterator[AnthropicClient]:
    with AnthropicClient(api_key=anthropic_api_key, settings=settings, enable_cache=False,
                         enable_retry=True, enable_circuit_breaker=False,
                         base_url="https://api.anthropic.com") as client:
        yield client
