"""What every task shares: the settings file, errors as exits, rich output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from invoke import Exit
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devmatrix.config import Settings, env_file_path, load_settings
from devmatrix.errors import DevMatrixError, UsageError
from devmatrix.observability.logging import configure_logging
from devmatrix.ops.checks import CheckResult, Status

# soft_wrap: a message is never cut into lines at the terminal's (or a pipe's 80) columns,
# so `FAIL: … — fix: …` stays one line for scripts and logs.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_CHECKED: "yellow",
         Status.SKIPPED: "dim"}
MARK = {Status.PASS: "✓", Status.FAIL: "✗", Status.NOT_CHECKED: "?", Status.SKIPPED: "·"}


def env_file() -> Path:
    return env_file_path()


def settings() -> Settings:
    """The settings of this command; logging is configured from them, once."""
    loaded = load_settings(env_file())
    configure_logging(loaded)
    return loaded


@contextmanager
def reported() -> Iterator[None]:
    """The tasks' error boundary: a DevMatrixError becomes `FAIL: what — fix: how` and its exit
    code (3: a service is down or frozen); anything else is reported as a bug. No traceback."""
    try:
        yield
    except Exit:
        raise
    except DevMatrixError as error:
        err_console.print(f"[red]FAIL:[/red] {escape(str(error))}", markup=True, highlight=False)
        raise Exit(code=error.exit_code) from None
    except Exception as error:  # noqa: BLE001 - the boundary: a bug is reported, never a traceback
        err_console.print(f"[red]FAIL:[/red] internal error ({type(error).__name__}: {escape(str(error))})"
                          " — fix: this is a bug: report it with the command you ran", highlight=False)
        raise Exit(code=1) from None


def positional(value: str, *, task: str, name: str) -> str:
    """``value`` of a task's positional argument, refusing what is really an option.

    Invoke hands the word after a task name to its positional argument even when it is
    `--help`, so `invoke rag.query --help` would search for "--help". Say so instead.
    """
    if value.startswith("-"):
        raise UsageError(f"{value!r} was read as the {name} argument of {task}",
                         fix=f"for help: `invoke --help {task}`; otherwise give the {name} first")
    return value


def echo(message: str) -> None:
    """Progress and diagnostics go to stderr, so stdout stays clean for --json."""
    err_console.print(f"  {message}", style="dim")


def print_result(result: CheckResult) -> None:
    console.print(
        f"  [{STYLE[result.status]}]{MARK[result.status]} {result.name}[/]: {result.detail}"
    )


def checks_table(results: Iterable[CheckResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("check", "status", "time", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        name = r.name + ("" if r.critical else " (non-critical)")
        table.add_row(name, f"[{STYLE[r.status]}]{r.status.value}[/]", f"{r.seconds:.2f}s",
                      r.detail)
    return table


def print_json(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
