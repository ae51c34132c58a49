"""`invoke cleanup`: remove test data (rows, `test:*` keys, test collections, marked test workspaces)."""

from __future__ import annotations

from contextlib import nullcontext

from devmatrix.backup.cleanup import SCOPES
from devmatrix.backup.cleanup import cleanup as run_cleanup
from devmatrix.errors import ChecksFailed
from devmatrix.stack.stack_lock import stack_lock
from devmatrix.tasks._common import echo, print_json, print_result, settings, task


@task(name="cleanup", help={
    "dry": "list what would be removed; change nothing",
    "yes": "also clean servers this stack's native provider does not run (compose, external): their test:* keys,"
           " test_* collections and test rows may be someone else's",
    "postgres": "only test rows in code_generation_logs / workflows (combine scope flags freely)",
    "redis": "only `test:*` Redis keys",
    "chroma": "only test Chroma collections (test_*)",
    "workspace": "only workspaces DevMatrix created in tests (marked .devmatrix-workspace) inside WORKSPACE_DIR",
    "json": "print the results as JSON",
})
def cleanup(c, dry=False, yes=False, postgres=False, redis=False, chroma=False, workspace=False, json=False):
    """Remove test data, listed first (every workspace made with ENVIRONMENT=test counts); no scope: all."""
    flags = {"postgres": postgres, "redis": redis, "chroma": chroma, "workspace": workspace}
    scopes = [name for name in SCOPES if flags[name]] or list(SCOPES)
    s = settings()
    with nullcontext() if dry else stack_lock(s.devmatrix_state_dir, "cleanup", echo=echo):
        results = run_cleanup(s, scopes=scopes, dry=dry, confirmed=yes,
                              echo=(lambda _: None) if json else echo)
    if json:
        print_json({"dry": dry, "results": [r.to_dict() for r in results]})
    else:
        for result in results:
            print_result(result)
    refused = [r.name for r in results if r.failed]
    if refused:
        raise ChecksFailed(f"cleanup refused for {', '.join(refused)}: not servers this stack runs (see above)",
                           fix="--yes removes their test data anyway")
