"""`invoke phase1`: stand up the local stack (infra → env → db → rag → git)."""

from __future__ import annotations

from contextlib import nullcontext

from devmatrix.config import load_settings
from devmatrix.errors import ChecksFailed
from devmatrix.monitoring.logging import configure_logging
from devmatrix.results import Status
from devmatrix.setup.phase1 import STEPS, StepResult, run_phase1
from devmatrix.stack.stack_lock import stack_lock
from devmatrix.tasks._common import (
    MARK,
    STYLE,
    console,
    echo,
    env_file,
    print_json,
    print_result,
    task,
)


@task(help={"dry": "print what each step would do, change nothing",
            "json": "print the step results as JSON (for scripts)"})
def phase1(c, dry=False, json=False):
    """Stand up the local stack: infra → env → db → rag → git (idempotent)."""
    def on_step(name: str) -> None:
        if not json:
            console.print(f"[bold]▶ [{STEPS.index(name) + 1}/{len(STEPS)}] {name}[/]")

    def on_done(step: StepResult) -> None:
        if json:
            return
        for result in step.results:
            print_result(result)
        console.print(f"  [{STYLE[step.status]}]{MARK[step.status]} {step.name}"
                      f" {step.status.value.lower()}[/] in {step.seconds:.2f} s")

    loaded = load_settings(env_file())
    configure_logging(loaded, report=True)
    # a dry run changes nothing, so it needs no lock
    with nullcontext() if dry else stack_lock(loaded.devmatrix_state_dir, "phase1", echo=echo):
        steps = run_phase1(env_file(), dry=dry, on_step=on_step, on_done=on_done,
                           echo=(lambda _: None) if json else echo)
    total = sum(s.seconds for s in steps)
    failed = [s for s in steps if s.status is Status.FAIL]
    if json:
        print_json({"dry": dry, "total_seconds": total, "ok": not failed,
                    "steps": [{"name": s.name, "seconds": s.seconds, "status": s.status.value,
                               "results": [r.to_dict() for r in s.results]} for s in steps]})
    else:
        console.print(f"phase1 {'plan' if dry else 'done'} in {total:.2f} s: "
                      + ", ".join(f"{s.name} {s.seconds:.2f}s" for s in steps))
    if failed:
        raise ChecksFailed(f"step {failed[0].name} failed (see above)")
