"""Git workspaces generated code is written to."""

from devmatrix.workspace.manager import WorkspaceManager, check_workspace_id

__all__ = ["WorkspaceManager", "check_workspace_id"]
