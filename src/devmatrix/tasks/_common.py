"""What every task shares: the settings file, errors as exits, rich output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import invoke
import invoke.parser
from invoke import Exit
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devmatrix.boundary import Failure
from devmatrix.config import Settings, env_file_path, load_settings
from devmatrix.errors import UsageError
from devmatrix.monitoring.logging import configure_logging
from devmatrix.results import CheckResult, Status

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


@dataclass(frozen=True)
class Number:
    """A numeric flag's range. Its default (e.g. 0 for "the setting's value") is always accepted;
    ``default`` says what it means, in the error."""

    minimum: float
    maximum: float
    default: str = ""

    def check(self, flag: str, value: float) -> None:
        if not self.minimum <= value <= self.maximum:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise UsageError(f"{flag} {shown} is out of range", fix=self.rule(type(value)))

    def rule(self, kind: type) -> str:
        return (f"give {_NUMBER_KIND.get(kind, 'a number')} from {self.minimum:g} to {self.maximum:g}"
                + (f", or leave it out for {self.default}" if self.default else ""))


_NUMBER_KIND = {int: "a whole number", float: "a number"}


@dataclass(frozen=True)
class Choice:
    """A flag with fixed choices; ``many``: a comma-separated list of them."""

    choices: tuple[str, ...]
    many: bool = False

    def check(self, flag: str, value: str) -> None:
        given = [v.strip() for v in value.split(",") if v.strip()] if self.many else [value]
        unknown = [v for v in given if v not in self.choices]
        if unknown:
            raise UsageError(f"{flag} {', '.join(map(repr, unknown))} is not one of the choices",
                             fix=f"choose from: {', '.join(self.choices)}")


@dataclass(frozen=True)
class Folder:
    """A flag naming a directory: missing is fine (it is created); a file on its path is not."""

    def check(self, flag: str, value: str) -> None:
        if not value.strip():  # Path("") would be the current directory
            raise UsageError(f"{flag} is empty", fix="name a folder (created if missing), or leave the flag out")
        path = Path(value)
        for part in (path, *path.parents):
            if part.exists():
                if not part.is_dir():
                    raise UsageError(f"{flag} {value}: {'it' if part == path else part} is a file, not a folder",
                                     fix="name a folder (created if missing)")
                return


@dataclass(frozen=True)
class _Unparsed:
    """What invoke could not convert to the flag's type (e.g. `--lines abc`): reported by the task."""

    raw: str
    kind: type


class _Argument(invoke.parser.Argument):
    def set_value(self, value, cast: bool = True) -> None:
        try:
            super().set_value(value, cast=cast)
        except ValueError:  # invoke would raise it as a traceback
            self.raw_value, self._value = value, _Unparsed(str(value), self.kind)


def flag_name(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")


class _Task(invoke.Task):
    """invoke's Task, with our short flags and every flag checked before the body runs: a value
    that is not a number, out of range or not one of the choices is `FAIL: … — fix: …`, exit 2."""

    def __init__(self, body, *, checks: dict[str, Number | Choice | Folder] | None = None, **kwargs) -> None:
        super().__init__(body, **kwargs)
        self.checks = checks or {}
        unknown = set(self.checks) - set(self.argspec(body).parameters)
        if unknown:
            raise TypeError(f"{body.__name__}: checks for no such argument: {', '.join(sorted(unknown))}")

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and short not in taken_names:
            opts["names"].append(short)
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[invoke.parser.Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            argument.__class__ = _Argument  # the same argument; a bad value is kept, not raised
        return arguments

    def __call__(self, c, *args, **kwargs):
        with reported():  # every task's one failure channel: raise our errors, never Exit
            self.check_flags(kwargs)
            return super().__call__(c, *args, **kwargs)

    def check_flags(self, values: dict) -> None:
        """UsageError for the first flag whose value is not what the task accepts."""
        defaults = {name: p.default for name, p in self.argspec(self.body).parameters.items()}
        for name, value in values.items():
            check = self.checks.get(name)
            if isinstance(value, _Unparsed):
                what = _NUMBER_KIND.get(value.kind, value.kind.__name__)
                raise UsageError(f"{flag_name(name)} {value.raw!r} is not {what}",
                                 fix=check.rule(value.kind) if isinstance(check, Number) else f"give {what}")
            if check is not None and value is not None and value != defaults.get(name):
                check.check(flag_name(name), value)


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
    """The tasks' error boundary, around every task body (``_Task``): what ended it is mapped as
    every `main()` maps it (devmatrix.boundary.Failure): `FAIL: what — fix: how` and the error's
    exit code (3: a service is down or frozen); anything else is reported as a bug. No traceback.
    A task fails by raising one of our errors (ChecksFailed after listing what failed)."""
    try:
        yield
    except Exit:  # a nested task's failure, already reported
        raise
    except (KeyboardInterrupt, Exception) as error:  # noqa: BLE001 - the boundary: never a traceback
        failure = Failure.reported(error)
        err_console.print(f"[red]FAIL:[/red] {escape(failure.line.removeprefix('FAIL: '))}", highlight=False)
        raise Exit(code=failure.exit_code) from None


def positional(value: str, *, task: str, name: str) -> str:
    """``value`` of a task's positional argument, refusing what is really an option.

    Invoke hands the word after a task name to its positional argument even when it is
    `--help`, so `invoke rag.query --help` would search for "--help". Say so instead.
    """
    if value.startswith("-"):
        raise UsageError(f"{value!r} was read as the {name} argument of {task}",
                         fix=f"for help: `invoke --help {task}`; otherwise give the {name} first")
    if not value.strip():
        raise UsageError(f"the {name} argument of {task} is empty", fix=f"give the {name}; `invoke --help {task}`")
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
