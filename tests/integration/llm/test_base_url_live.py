"""ANTHROPIC_BASE_URL on the real stack: a paid call reserves its budget in the real Redis,
then goes to the configured gateway (here an address where nothing listens, so it fails
naming it). Nothing is spent: a failed call settles at $0."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from devmatrix.api.resources import Resources
from devmatrix.api.routes.health import ready_checks
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm import AnthropicClient, check_backend
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway() -> str:
    return f"http://127.0.0.1:{free_port()}/anthropic"


@pytest.fixture
def paid(settings: Settings):
    def make(**values: object) -> Settings:
        # model_copy does not validate: the key must already be what the field holds
        key = SecretStr("sk-ant-test")  # pragma: allowlist secret
        return settings.model_copy(update={"anthropic_api_key": key, "llm_backend": "anthropic", **values})
    return make


def test_the_client_sends_its_calls_to_anthropic_base_url(gateway, paid):
    client = AnthropicClient(settings=paid(anthropic_base_url=gateway), enable_cache=False,
                             enable_retry=False, enable_circuit_breaker=False)
    with client:
        assert (client.backend, client.base_url) == ("anthropic", gateway)
        with pytest.raises(ServiceError, match=f"cannot reach the anthropic backend at {gateway}"):
            client.complete("hi", max_tokens=5)


def test_the_env_check_and_the_api_use_it_too(gateway, paid, settings):
    through = paid(anthropic_base_url=gateway, llm_retry_window_s=0)  # fail at once: nothing listens
    with pytest.raises(ServiceError, match=f"cannot reach the anthropic backend at {gateway}"):
        check_backend(through)
    assert Resources(through).llm_endpoint == through.resolved_llm_base_url == gateway
    assert Resources(settings).llm_endpoint == settings.llm_base_url  # the stack's local server
    with pytest.raises(ServiceError, match=f"cannot reach {gateway}"):  # the API's /ready
        ready_checks(through)["llm"]()
