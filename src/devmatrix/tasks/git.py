"""`invoke git`: the git test workspace (seed §1.5)."""

from __future__ import annotations

from devmatrix.setup import git as ops_git
from devmatrix.tasks._common import print_result, settings, task


@task(default=True, help={"dry": "print the plan, change nothing"})
def init(c, dry=False):
    """Create workspace_test/ with git, the configured user and the initial commit."""
    print_result(ops_git.init_workspace(settings(), dry=dry))
