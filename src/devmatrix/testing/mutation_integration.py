"""The integration pass: the integration tests run against each mutant the unit tier did not kill.

mutmut (``nox -s mutation``) runs the unit tier only. This pass takes the mutants it left, survived
or with no tests (its ``*.meta`` files), and for each runs the integration tests declared for the
mutant's package (``INTEGRATION_TESTS``) with the mutant active, against a side stack
(``DEVMATRIX_ENV_FILE``): a failing test kills it, a run past the deadline kills it too (a
timeout), every test passing lets it survive. The results go to mutants/integration-results.json
(devmatrix.testing.mutation_results), never into mutmut's files.

How a mutant is made active, as mutmut does it: pytest runs in ``mutants/`` with ``mutants/src``
first on the path (PYTHONPATH), and mutmut's trampolines in the mutated copy call the mutant named
by ``MUTANT_UNDER_TEST``. The mutation guard plugin fails the run when devmatrix imports from
anywhere else. A process a test starts inherits both variables, so the mutant is active there too;
the stack's own servers and workers (started by ``invoke phase1`` before the pass) run the
original code, so what only they execute cannot be killed here.

One pass at a time per mutants/ folder: each pass rewrites the results file whole from what it
read at its start, so two at once would drop each other's results.

Before the mutants, two runs check the setup: the tests pass with no mutant active (else every
mutant would be "killed") and fail when every mutated function raises (``MUTANT_UNDER_TEST=fail``:
else the tests do not run the mutated copy).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devmatrix.errors import DevMatrixError, UsageError
from devmatrix.testing.mutation_results import (
    INTEGRATION_RESULTS,
    IntegrationResult,
    Outcome,
    UnitResult,
    load_integration,
    save_integration,
)

# Which integration tests can reach each package's code in the test process: the tests that call
# it (not only through the API or a worker of the stack, which run the original code).
INTEGRATION_TESTS: Mapping[str, tuple[str, ...]] = {
    # the client against the local model, its response cache and the budget ledger in Redis
    "llm": ("tests/integration/llm",),
    # backup, verify and restore of real Postgres, Redis and Chroma servers on a scratch stack
    "backup": ("tests/integration/ops/test_backup.py", "tests/integration/ops/test_restore_failures.py"),
    # the native provider's up, down, status and heal of real servers
    "stack": ("tests/integration/ops/test_infra.py", "tests/integration/ops/test_infra_heal.py"),
    # the app in the test process (TestClient) against the real stores, and its live server
    "api": ("tests/integration/api",),
}
MARKER = "integration and not real_api"  # the integration tier, as nox runs it; never the paid tests
# A mutant's run may take this many times the clean run (a kill ends it early; a slow mutant is
# still a mutant that works), and never less than the floor: a short clean run on a loaded machine
# varies by tens of seconds.
DEADLINE_FACTOR = 3.0
DEADLINE_FLOOR_S = 120.0
# What pytest gets after SIGINT (the deadline) to run its fixtures' teardown (a scratch stack's
# down) before its whole process group is killed.
TEARDOWN_GRACE_S = 60.0
MUTATION_GUARD = "tests._fixtures.mutation_guard"
_FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def integration_outcome(exit_code: int | None) -> Outcome:
    """A mutant's outcome from pytest's exit code (None: the deadline ended it)."""
    if exit_code is None:
        return Outcome.TIMEOUT
    # 1: a test failed; 3: pytest's internal error, a kill as mutmut counts it. Anything else is an
    # error, not a kill: 2 (interrupted, a collection error), 4 (a usage error: a conftest that
    # fails to load with the mutant in place), 5 (no test collected). The clean run already passed
    # with the same tests and plugins, so these are the mutant's doing, counted as not killed.
    return {0: Outcome.SURVIVED, 1: Outcome.KILLED, 3: Outcome.KILLED}.get(exit_code, Outcome.ERROR)


def failed_tests(output: str) -> tuple[str, ...]:
    """The tests pytest's short summary (-rfE) names as failed or errored."""
    return tuple(dict.fromkeys(_FAILED_LINE.findall(output)))


def to_run(unit: Mapping[str, UnitResult], packages: Iterable[str], only: set[str] | None = None) -> list[str]:
    """The mutants of ``packages`` (of ``only``, a sample's names, if given) the unit tier did not kill."""
    wanted = set(packages)
    missing = wanted - set(INTEGRATION_TESTS)
    if missing:
        raise UsageError(
            f"no integration tests are declared for {', '.join(sorted(missing))}",
            fix=f"pass one of {', '.join(INTEGRATION_TESTS)}, or declare the package's tests in"
            " INTEGRATION_TESTS (devmatrix/testing/mutation_integration.py)",
        )
    return sorted(
        name
        for name, r in unit.items()
        if r.package in wanted and r.outcome in (Outcome.SURVIVED, Outcome.NO_TESTS) and (only is None or name in only)
    )


@dataclass(frozen=True)
class Run:
    exit_code: int | None  # None: ended at the deadline
    seconds: float
    output: str


@dataclass(frozen=True)
class Pytest:
    """pytest of the tiers' venv, run in mutants/ on the mutated copy against a side stack."""

    python: str
    mutants: Path
    env: Mapping[str, str]  # the caller's environment (with DEVMATRIX_ENV_FILE), passed down whole

    def command(self, tests: tuple[str, ...]) -> list[str]:
        return [
            self.python,
            "-m",
            "pytest",
            "-m",
            MARKER,
            "-x",
            "-q",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "-p",
            MUTATION_GUARD,
            *tests,
        ]

    def environment(self, mutant: str | None) -> dict[str, str]:
        env = {k: v for k, v in self.env.items() if k != "MUTANT_UNDER_TEST"}
        src = str((self.mutants / "src").absolute())
        env["PYTHONPATH"] = os.pathsep.join([src, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        if mutant is not None:
            env["MUTANT_UNDER_TEST"] = mutant
        return env

    def run(self, tests: tuple[str, ...], mutant: str | None, deadline_s: float | None) -> Run:
        """Run ``tests`` with ``mutant`` active (None: the original code). At the deadline pytest
        gets SIGINT and TEARDOWN_GRACE_S to clean up, then its process group is killed."""
        started = time.monotonic()
        process = subprocess.Popen(
            self.command(tests),
            cwd=self.mutants,
            env=self.environment(mutant),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
        try:
            output, _ = process.communicate(timeout=deadline_s)
            return Run(process.returncode, time.monotonic() - started, output)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            try:
                output, _ = process.communicate(timeout=TEARDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
            return Run(None, time.monotonic() - started, output)
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C): leave nothing running
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _interruptible() -> None:
    """In the child, before pytest starts: SIGINT back to its default. A pass started in the
    background (`nohup … &`, a CI job) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: the deadline's SIGINT would not let pytest tear its fixtures down."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def check_setup(pytest: Pytest, package: str, log: Callable[[str], None]) -> float:
    """The clean run and the forced failure of ``package``'s tests (module docstring); the clean
    run's seconds. Raises when either shows the pass would measure nothing."""
    tests = INTEGRATION_TESTS[package]
    clean = pytest.run(tests, None, None)
    if clean.exit_code != 0:
        raise DevMatrixError(
            f"{package}'s integration tests ({' '.join(tests)}) fail with no mutant active"
            f" (pytest exit {clean.exit_code}): every mutant would count as killed\n" + clean.output[-3000:],
            fix="make them pass on the side stack first (is it up? `invoke infra.status`"
            " with the same DEVMATRIX_ENV_FILE)",
        )
    log(f"{package}: the integration tests pass with no mutant active ({clean.seconds:.0f} s)")
    forced = pytest.run(tests, "fail", None)
    if forced.exit_code == 0:
        raise DevMatrixError(
            f"{package}'s integration tests pass while every mutated function raises:"
            " they do not run the mutated copy under mutants/src",
            fix="run `nox -s mutation` from the project root first, so mutants/ is current",
        )
    log(f"{package}: the tests fail when every mutated function raises (pytest exit {forced.exit_code})")
    return clean.seconds


def run_pass(
    pytest: Pytest,
    mutants: list[str],
    unit: Mapping[str, UnitResult],
    *,
    commit: str,
    deadline_s: float | None = None,
    again: bool = False,
    stop_at: float | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, IntegrationResult]:
    """Run each of ``mutants`` (to_run's) with its package's tests; every result is saved as it
    comes. A mutant with a result already is skipped unless ``again``. ``deadline_s``: each mutant's
    (default: DEADLINE_FACTOR times the clean run, at least DEADLINE_FLOOR_S). ``stop_at``: a
    time.monotonic() after which no mutant is started."""
    path = pytest.mutants / INTEGRATION_RESULTS
    results = load_integration(path)
    logs = pytest.mutants / "integration-logs"
    logs.mkdir(exist_ok=True)
    deadlines: dict[str, float] = {}
    for number, name in enumerate(mutants, 1):
        package = unit[name].package
        if name in results and not again:
            continue
        if stop_at is not None and time.monotonic() > stop_at:
            log(f"time is up: {len(mutants) - number + 1} mutant(s) not run")
            break
        if package not in deadlines:
            clean_s = check_setup(pytest, package, log)
            deadlines[package] = deadline_s or max(DEADLINE_FLOOR_S, DEADLINE_FACTOR * clean_s)
        tests = INTEGRATION_TESTS[package]
        run = pytest.run(tests, name, deadlines[package])
        (logs / f"{name}.log").write_text(run.output)
        result = IntegrationResult(
            package=package,
            outcome=integration_outcome(run.exit_code),
            seconds=round(run.seconds, 1),
            exit_code=run.exit_code,
            commit=commit,
            tests=tests,
            failed=failed_tests(run.output),
        )
        results[name] = result
        save_integration(path, results)
        log(
            f"[{number}/{len(mutants)}] {name}: {result.outcome.value} in {result.seconds:.0f} s"
            + (f" by {result.failed[0]}" if result.failed else "")
            + (
                f" (pytest exit {run.exit_code}: not a kill; see {logs / name}.log)"
                if result.outcome is Outcome.ERROR
                else ""
            )
        )
    return results
