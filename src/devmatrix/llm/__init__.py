"""The language model: AnthropicClient over the official SDK, for the paid API or the local server.

The face is lazy (PEP 562): the anthropic SDK takes 1-4 s to import, and modules that only need
this package's light parts (local_server, pricing, the breaker) are imported by every `invoke`
command, `--help` included. The client loads on first use of a name below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from devmatrix.llm.slots import generation_limit  # light: no SDK

if TYPE_CHECKING:
    from devmatrix.llm.client import AnthropicClient, LLMResult, check_backend, create_llm_client

__all__ = ["AnthropicClient", "LLMResult", "check_backend", "create_llm_client", "generation_limit"]
_FROM_CLIENT = frozenset(__all__) - {"generation_limit"}


def __getattr__(name: str) -> Any:
    if name in _FROM_CLIENT:
        return getattr(import_module("devmatrix.llm.client"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
