"""Git workspaces generated code is written to."""

from devmatrix.workspace.manager import WorkspaceManager

__all__ = ["WorkspaceManager"]
