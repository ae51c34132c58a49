"""Agents: code generation (one request end to end), review, and the orchestrator's plans.

The seed's names, importable from here: ``CodeGenerationAgent(api_key=, postgres_manager=,
enable_cache=)`` with ``.generate(user_request, workspace_id, git_enabled=, auto_approve=,
enable_rag=)``, and ``OrchestratorAgent(api_key=)``.

The face is lazy (PEP 562), like devmatrix.llm's: the agents load the anthropic SDK (1-4 s),
and the light modules here (approval, result) are imported by every `invoke` command.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devmatrix.agents.codegen import CodeGenerationAgent
    from devmatrix.agents.orchestrator import OrchestratorAgent
    from devmatrix.agents.result import GenerationResult

_HOMES = {"CodeGenerationAgent": "codegen", "OrchestratorAgent": "orchestrator", "GenerationResult": "result"}
__all__ = ["CodeGenerationAgent", "GenerationResult", "OrchestratorAgent"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"devmatrix.agents.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
