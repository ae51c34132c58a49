"""`invoke phase1`: infra → env → db → rag → git, each step timed, all idempotent.

A second run changes nothing and is fast: every step first looks at what is
already there. With ``dry`` every step only says what it would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devmatrix.config import Settings, load_settings
from devmatrix.results import CheckResult, Status, timed
from devmatrix.setup import db, env, git, rag, rotate
from devmatrix.stack.providers import get_provider

STEPS = ("infra", "env", "db", "rag", "git")


@dataclass
class StepResult:
    name: str
    seconds: float
    results: list[CheckResult] = field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.results}
        for status in (Status.FAIL, Status.PASS, Status.NOT_CHECKED):
            if status in statuses:
                return status
        return Status.SKIPPED


def run_phase1(
    env_file: Path,
    *,
    dry: bool = False,
    on_step: Callable[[str], None] = lambda name: None,
    on_done: Callable[[StepResult], None] = lambda step: None,
    echo: Callable[[str], None] = print,
) -> list[StepResult]:
    """Run every step in order; a DevMatrixError stops the phase at its step."""
    # the settings file first: the servers infra starts need its secrets (REDIS_PASSWORD)
    created = env.ensure_env_file(env_file, dry=dry)
    settings = load_settings(env_file)
    if not dry:
        env.warm_up_llm_check(settings)
    steps: list[StepResult] = []
    for name in STEPS:
        on_step(name)
        with timed() as elapsed:
            if name == "env":
                results, settings = _env_step(env_file, dry, created)
            else:
                results = _STEP[name](settings, env_file, dry, echo)
        step = StepResult(name, elapsed(), results)
        steps.append(step)
        on_done(step)
        if step.status is Status.FAIL:
            break
    return steps


def _infra(settings: Settings, env_file: Path, dry: bool, echo) -> list[CheckResult]:
    provider = get_provider(settings, env_file=env_file, echo=echo)
    if dry:
        states = provider.status()
        todo = [s.name for s in states if not s.healthy]
        detail = f"would start {', '.join(todo)}" if todo else "all services healthy; nothing to do"
        return [CheckResult("services", Status.SKIPPED, f"{provider.name}: {detail}")]
    return [
        CheckResult(s.name, Status.PASS if s.detail == "started" else Status.SKIPPED,
                    f"{s.url} {s.version} ({s.detail or 'healthy'})")
        for s in provider.up()
    ]


def _env_step(env_file: Path, dry: bool, created: CheckResult) -> tuple[list[CheckResult], Settings]:
    if dry and not env_file.exists():
        return [created], load_settings(env_file)
    settings, valid = env.validate_env_file(env_file)
    results = [created, valid, rotate.default_password_check(settings)]
    if not dry:  # a second run does not ask the model again when nothing it depends on changed
        results.append(env.check_llm_backend(settings, unless_unchanged=True))
    return results, settings


def _db(settings: Settings, env_file: Path, dry: bool, echo) -> list[CheckResult]:
    return db.setup_database(settings, dry=dry)


def _rag(settings: Settings, env_file: Path, dry: bool, echo) -> list[CheckResult]:
    return rag.phase_step(settings, dry=dry)


def _git(settings: Settings, env_file: Path, dry: bool, echo) -> list[CheckResult]:
    return [git.init_workspace(settings, dry=dry)]


_STEP = {"infra": _infra, "db": _db, "rag": _rag, "git": _git}
