"""`invoke cleanup`: remove test data (rows, `test:*` keys, test collections, workspace_test/)."""

from __future__ import annotations

from contextlib import nullcontext

from invoke import task

from devmatrix.ops.cleanup import SCOPES
from devmatrix.ops.cleanup import cleanup as run_cleanup
from devmatrix.ops.services.stack_lock import stack_lock
from devmatrix.tasks._common import echo, print_json, print_result, reported, settings


@task(name="cleanup", help={
    "dry": "list what would be removed; change nothing",
    "postgres": "only test rows in code_generation_logs / workflows (combine scope flags freely)",
    "redis": "only `test:*` Redis keys",
    "chroma": "only test Chroma collections (test_*)",
    "workspace": "only the contents of the test workspace (WORKSPACE_DIR, keeps its .git)",
    "json": "print the results as JSON",
})
def cleanup(c, dry=False, postgres=False, redis=False, chroma=False, workspace=False, json=False):
    """Remove test data and only test data; no scope flag means every scope."""
    flags = {"postgres": postgres, "redis": redis, "chroma": chroma, "workspace": workspace}
    scopes = [name for name in SCOPES if flags[name]] or list(SCOPES)
    with reported():
        s = settings()
        with nullcontext() if dry else stack_lock(s.devmatrix_state_dir, "cleanup", echo=echo):
            results = run_cleanup(s, scopes=scopes, dry=dry)
    if json:
        print_json({"dry": dry, "results": [r.to_dict() for r in results]})
        return
    for result in results:
        print_result(result)
