"""`invoke validate`: the read-only proof that every component works."""

from __future__ import annotations

from invoke import Exit

from devmatrix.agents.approval import gate_line
from devmatrix.checks import validate as ops_validate
from devmatrix.tasks._common import (
    checks_table,
    console,
    env_file,
    err_console,
    print_json,
    reported,
    task,
)


@task(help={"json": "print the checks as JSON (for scripts)"})
def validate(c, json=False):
    """Read-only check of every component. Exit 0 ready, 1 a critical check failed, 2 cannot run."""
    with reported():
        report = ops_validate.validate(env_file())
    if json:
        print_json(report.to_dict())
    elif report.error:
        err_console.print(f"[red]{report.verdict}[/red]")
    else:
        console.print(checks_table(report.results, report.title))
        console.print(gate_line(report.settings))
        console.print(report.summary)
        console.print(f"[bold {'green' if report.exit_code == 0 else 'red'}]{report.verdict}[/]")
    raise Exit(code=report.exit_code)
