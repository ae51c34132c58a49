"""Workflows: a plan of typed tasks run by specialists, in parallel where it can.

The seed's name, importable from here: ``MultiAgentWorkflow(orchestrator=, scratchpad=)``
with ``.execute(user_request, workspace_id)``.
"""

from devmatrix.workflows.multi_agent import MultiAgentWorkflow

__all__ = ["MultiAgentWorkflow"]
