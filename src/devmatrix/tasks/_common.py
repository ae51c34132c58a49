"""What every task shares: the settings file, errors as exits, rich output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import invoke
from invoke import Exit
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devmatrix.config import Settings, env_file_path, load_settings
from devmatrix.errors import DevMatrixError, UsageError
from devmatrix.observability.logging import configure_logging
from devmatrix.ops.checks import CheckResult, Status

# soft_wrap: a message is never cut into lines at the terminal's columns, so `FAIL: … — fix: …`
# stays one line. Off a terminal (a pipe, a file) rich would also lay tables out at 80 columns:
# it gets room to spare instead, so `invoke infra.logs | jq` and grep see whole lines.
UNWRAPPED_WIDTH = 100_000


def _console(stream) -> Console:
    return Console(stderr=stream is sys.stderr, highlight=False, soft_wrap=True,
                   width=None if stream.isatty() else UNWRAPPED_WIDTH)


console = _console(sys.stdout)
err_console = _console(sys.stderr)

STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_CHECKED: "yellow",
         Status.SKIPPED: "dim"}
MARK = {Status.PASS: "✓", Status.FAIL: "✗", Status.NOT_CHECKED: "?", Status.SKIPPED: "·"}


# The only short flags, one meaning each in every task; every other option is long only.
# (invoke's automatic ones took the first free letter: `rag.query -h` meant --threshold.)
SHORT_FLAGS = {"dry": "d", "json": "j", "service": "s", "yes": "y", "recreate": "r", "lines": "l",
               "from_": "f"}


class _Task(invoke.Task):
    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and short not in taken_names:
            opts["names"].append(short)
        return opts


task = functools.partial(invoke.task, klass=_Task, auto_shortflags=False)


def env_file() -> Path:
    return env_file_path()


def settings() -> Settings:
    """The settings of this command; logging is configured from them, once."""
    loaded = load_settings(env_file())
    configure_logging(loaded, report=True)
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
