"""`invoke validate`: the read-only proof that every component works."""

from __future__ import annotations

from devmatrix.agents.approval import gate_line
from devmatrix.checks import validate as ops_validate
from devmatrix.errors import ChecksFailed
from devmatrix.tasks._common import checks_table, console, env_file, print_json, task


@task(help={"json": "print the checks as JSON (for scripts)"})
def validate(c, json=False):
    """Read-only check of every component. Exit 0 ready, 1 a critical check failed, 2 cannot run."""
    report = ops_validate.validate(env_file())
    if json:
        print_json(report.to_dict())
    elif not report.error:
        console.print(checks_table(report.results, report.title))
        console.print(gate_line(report.settings))
        console.print(report.summary)
        console.print(f"[bold {'green' if report.exit_code == 0 else 'red'}]{report.verdict}[/]")
    if report.error:
        raise ChecksFailed(f"cannot validate: {report.error}", fix=report.fix, exit_code=report.exit_code)
    if report.exit_code:
        raise ChecksFailed(f"not ready: {report.summary}", exit_code=report.exit_code)
