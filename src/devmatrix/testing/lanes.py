"""The test tiers' runner, beyond nox's own sessions (noxfile.py declares them and calls this).

- **The tiers' virtualenv** (``TierVenv``): the project's ``.venv`` when scripts/bootstrap.sh
  installed this very pyproject.toml into it (its stamp, ``STAMP``, holds ``wanted()``), else a
  venv of the tiers' own, brought up to date under a file lock (``ensure_current``) so two
  tiers started at once install once.
- **Lanes** (``Lane``, ``run_beside``): commands run one after another in a background thread,
  their output in one log, while a session runs its own pytest in the foreground; the first
  failure ends a lane, except its ``finally_`` commands (a stack's `down`).
- **The wiring check** (``WiringCheck``): `pytest --setup-plan` of each tier at once, in the
  background: every fixture found and every marker right, with no service running.
- **Values a session reads**: a setting (``setting``), a pinned version (``pin``).

Nothing here imports nox: a session passes its own ``log`` and ``run``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dotenv import dotenv_values
from filelock import FileLock

STAMP = ".devmatrix-installed"  # in a venv: wanted() of what was installed into it (bootstrap.sh writes it too)

Command = list[str]  # a program of the tiers' venv, then its arguments


def wanted(pyproject: Path, model_package: str) -> str:
    """What an up-to-date tier venv has installed: sha256 of pyproject.toml and the model package
    (the same bytes scripts/bootstrap.sh hashes)."""
    return hashlib.sha256(pyproject.read_bytes() + model_package.encode()).hexdigest()


@dataclass(frozen=True)
class TierVenv:
    """The virtualenv the tiers run in; its programs by absolute path."""

    path: Path

    @classmethod
    def choose(cls, project: Path, fallback: Path, want: str) -> TierVenv:
        """The project's venv when it is current, else ``fallback`` (made or updated by ensure_current)."""
        return cls(project) if cls(project).is_current(want) else cls(fallback)

    def is_current(self, want: str) -> bool:
        stamp = self.path / STAMP
        return stamp.exists() and stamp.read_text().strip() == want

    def tool(self, name: str) -> str:
        return str((self.path / "bin" / name).absolute())

    def env(self) -> dict[str, str]:
        """Its bin first on PATH, for what its programs start."""
        return {"PATH": f"{Path(self.tool('python')).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "VIRTUAL_ENV": str(self.path.absolute())}

    def ensure_current(self, want: str, *, lock: Path, install: Callable[[], None],
                       log: Callable[[str], None]) -> None:
        """``install()`` into it unless its stamp says ``want`` is installed; then stamp it. Under
        ``lock``: a second tier started at once waits and finds it current. A failed install
        leaves no stamp, so the next run installs again."""
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            if self.is_current(want):
                log(f"the tiers run in {self.path}: it is up to date with pyproject.toml")
                return
            install()
            (self.path / STAMP).write_text(want)


class Lane(threading.Thread):
    """Commands run one after another in the background, their output in one log; the first
    failure ends the lane, except ``finally_`` commands, which always run (a stack's `down`)."""

    def __init__(self, name: str, commands: list[Command], *, venv: TierVenv, log: Path,
                 env: Mapping[str, str] | None = None, finally_: list[Command] | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.commands, self.finally_ = commands, finally_ or []
        self.venv, self.log = venv, log
        self.env = {**os.environ, **venv.env(), **(env or {})}
        self.failed: str | None = None  # the command that failed, with its exit code

    def run(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            for command in self.commands:
                if not self._run(command, out):
                    break
            for command in self.finally_:
                self._run(command, out)

    def _run(self, command: Command, out: TextIO) -> bool:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        code = subprocess.run([self.venv.tool(command[0]), *command[1:]], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=self.env, check=False).returncode
        if code != 0 and self.failed is None:
            self.failed = f"`{' '.join(command)}` exited {code}"
        return code == 0

    def finish(self, show: Callable[[str], None] = print) -> str | None:
        """Wait for the lane, show its log; what failed, or None."""
        self.join()
        show(f"\n===== {self.name} (background lane) =====\n{self.log.read_text()}")
        return self.failed


def run_beside(foreground: Callable[[], None], lanes: list[Lane], *,
               show: Callable[[str], None] = print) -> list[str]:
    """``foreground()`` here while ``lanes`` run in the background; every lane is waited for and
    shown even when the foreground fails (its error then goes on). What failed, lane by lane."""
    for lane in lanes:
        lane.start()
    try:
        foreground()
    finally:
        failures = [f"{lane.name}: {failed}" for lane in lanes if (failed := lane.finish(show))]
    return failures


@dataclass(frozen=True)
class WiringFailure:
    tier: str
    exit_code: int  # 1: a fixture or marker is wrong; 5: no test collected
    output: str


class WiringCheck:
    """`pytest --setup-plan` of each tier (tests/<tier>, marker <tier>) at once in the background:
    the fixtures are resolved, never run, so it takes seconds and needs no service.

    Each check writes to a file of its own, never to a pipe: nobody reads until ``finish``, after
    the unit tier, and a tier's plan (the integration tier's is over 64 KB) would fill a pipe and
    stop its pytest mid-write, where pytest-timeout then failed it (CI, with one core busy)."""

    def __init__(self, venv: TierVenv, tiers: tuple[str, ...], *, root: Path = Path(),
                 env: Mapping[str, str] | None = None) -> None:
        environment = {**os.environ, **(env or {})}
        # closed by finish(), which reads them
        self.outputs = {tier: tempfile.TemporaryFile("w+", encoding="utf-8") for tier in tiers}  # noqa: SIM115
        self.checks = {
            tier: subprocess.Popen([venv.tool("pytest"), "--setup-plan", "-q", "-p", "no:cacheprovider", "-m", tier,
                                    f"tests/{tier}"], cwd=root, stdout=self.outputs[tier],
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment, text=True)
            for tier in tiers}

    def finish(self, log: Callable[[str], None]) -> list[WiringFailure]:
        failures = []
        for tier, check in self.checks.items():
            check.wait()
            with self.outputs[tier] as written:
                written.seek(0)
                output = written.read()
            if check.returncode != 0:
                failures.append(WiringFailure(tier, check.returncode, output))
            else:
                log(f"wiring: tests/{tier} collects and sets up")
        return failures


def setting(name: str, env_file: Path, environ: Mapping[str, str] = os.environ) -> str:
    """A value from the environment, else from the settings file; "" when neither has it."""
    if environ.get(name):
        return environ[name]
    return (dotenv_values(env_file).get(name) or "") if env_file.exists() else ""


def pin(name: str, pyproject: Path) -> str:
    """``name==version`` as pyproject.toml pins it (one place for every version)."""
    match = re.search(rf'"({re.escape(name)}==[^"]+)"', pyproject.read_text())
    if match is None:
        raise LookupError(f"{pyproject} does not pin {name}: add \"{name}==X\" to its dependencies")
    return match.group(1)
