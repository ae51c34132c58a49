"""Agents: code generation (one request end to end), review, and the orchestrator's plans.

The seed's names, importable from here: ``CodeGenerationAgent(api_key=, postgres_manager=,
enable_cache=)`` with ``.generate(user_request, workspace_id, git_enabled=, auto_approve=,
enable_rag=)``, and ``OrchestratorAgent(api_key=)``.
"""

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.agents.result import GenerationResult

__all__ = ["CodeGenerationAgent", "GenerationResult", "OrchestratorAgent"]
