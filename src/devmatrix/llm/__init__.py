"""The language model: AnthropicClient over the official SDK, for the paid API or the local server."""

from devmatrix.llm.client import AnthropicClient, LLMResult, check_backend, create_llm_client
from devmatrix.llm.slots import generation_limit

__all__ = ["AnthropicClient", "LLMResult", "check_backend", "create_llm_client", "generation_limit"]
