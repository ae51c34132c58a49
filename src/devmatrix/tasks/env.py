"""`invoke env`: create `.env.test` from the example if missing, validate it, check the LLM."""

from __future__ import annotations

from devmatrix.errors import ChecksFailed
from devmatrix.results import Status
from devmatrix.setup import env as ops_env
from devmatrix.tasks._common import env_file, print_result, task


@task(default=True, help={"dry": "print what would be created, change nothing"})
def check(c, dry=False):
    """Create the settings file if missing (never overwrite), validate it, ping the LLM."""
    path = env_file()
    print_result(ops_env.ensure_env_file(path, dry=dry))
    if dry and not path.exists():
        return
    settings, valid = ops_env.validate_env_file(path)
    print_result(valid)
    if dry:
        return
    llm = ops_env.check_llm_backend(settings)
    print_result(llm)
    if llm.status is Status.FAIL:
        raise ChecksFailed(f"the {llm.name} check failed (above)")
