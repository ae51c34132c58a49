"""The Messages-API double on a free loopback port, and the official SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from devmatrix.llm.double import DEFAULT_API_KEY, MessagesDouble


@pytest.fixture
def double() -> Iterator[MessagesDouble]:
    with MessagesDouble() as running:
        yield running


@pytest.fixture
def sdk(double: MessagesDouble) -> Iterator[anthropic.Anthropic]:
    """No retries unless a test asks for them: each request is one request."""
    with anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=double.url, max_retries=0, timeout=10) as client:
        yield client
