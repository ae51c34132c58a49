"""ANTHROPIC_BASE_URL: every client of the paid backend sends its calls there.

Sending a paid call first reserves its budget in Redis (llm/ledger.py), so the tests that
send one live in tests/integration/llm/test_base_url_live.py; these need no service."""

from __future__ import annotations

import pytest

from devmatrix.config import DEFAULT_ANTHROPIC_BASE_URL, Settings
from devmatrix.llm import AnthropicClient
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


@pytest.fixture
def gateway() -> str:
    """A gateway address where nothing listens: a call that reaches for it fails naming it."""
    return f"http://127.0.0.1:{free_port()}/anthropic"


def paid(**values: object) -> Settings:
    return Settings(anthropic_api_key="sk-ant-test", llm_backend="anthropic", **values)  # pragma: allowlist secret


def test_the_default_is_the_public_api():
    settings = paid()
    assert settings.anthropic_base_url == DEFAULT_ANTHROPIC_BASE_URL == "https://api.anthropic.com"
    assert AnthropicClient(settings=settings, enable_cache=False).base_url == DEFAULT_ANTHROPIC_BASE_URL


def test_an_explicit_url_equal_to_the_setting_is_the_paid_backend(gateway):
    """How the paid fixtures build their client: the setting's URL is not a 'local server'."""
    client = AnthropicClient(settings=Settings(anthropic_base_url=gateway), api_key="sk-ant-test",
                             base_url=gateway, enable_cache=False)
    assert (client.backend, client.base_url, client.api_key) == ("anthropic", gateway, "sk-ant-test")


def test_a_trailing_slash_is_dropped_and_a_non_url_is_refused():
    assert Settings(anthropic_base_url="https://gw.example.com/v1/").anthropic_base_url == \
        "https://gw.example.com/v1"
    with pytest.raises(ValueError, match="must be an http"):
        Settings(anthropic_base_url="api.anthropic.com")
