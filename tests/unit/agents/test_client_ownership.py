"""An agent closes the LLM client it built itself, never one it was given."""

from __future__ import annotations

import pytest

from devmatrix.agents import CodeGenerationAgent, OrchestratorAgent
from devmatrix.config import Settings
from devmatrix.llm import AnthropicClient

pytestmark = pytest.mark.unit
LOCAL = Settings(llm_backend="local", llm_cache_enabled=False)  # no key, no Redis: nothing is sent


@pytest.mark.parametrize("agent_class", [CodeGenerationAgent, OrchestratorAgent])
def test_close_closes_the_client_the_agent_built(agent_class):
    agent = agent_class(settings=LOCAL)
    built = agent.client
    agent.close()
    assert built._sdk.is_closed()
    assert agent.client is not built and not agent.client._sdk.is_closed()  # a later call builds a new one
    agent.close()


@pytest.mark.parametrize("agent_class", [CodeGenerationAgent, OrchestratorAgent])
def test_close_leaves_a_given_client_to_its_owner(agent_class):
    with AnthropicClient(settings=LOCAL, enable_cache=False) as given:
        agent = agent_class(settings=LOCAL, llm_client=given)
        agent.close()
        assert not given._sdk.is_closed() and agent.client is given
