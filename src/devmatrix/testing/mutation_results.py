"""Mutation scores per package, from both tiers' results (docs/testing.md; issue 23).

- **The unit tier** is mutmut's: the ``*.meta`` files it writes beside each mutated module under
  ``mutants/src`` hold every mutant's exit code (``unit_results``).
- **The integration tier** is the integration pass's (devmatrix.testing.mutation_integration):
  ``mutants/integration-results.json``, one outcome for each mutant the unit tier did not kill
  (``IntegrationResult``, ``load_integration``).
- **The score** (``PackageScore``): killed / checked, a timeout counting as killed and "no tests"
  as surviving; the combined score adds the integration tier's kills of the unit tier's survivors.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from devmatrix.errors import UsageError

PACKAGES = ("llm", "rag", "api", "stack", "backup")
INTEGRATION_RESULTS = "integration-results.json"  # in mutmut's mutants/ folder, beside its own files


class Outcome(StrEnum):
    """What became of a mutant in one tier."""

    KILLED = "killed"  # a test failed with it in place
    TIMEOUT = "timeout"  # the tests did not finish in time: the mutant made the code hang; a kill
    SURVIVED = "survived"  # every test passed
    NO_TESTS = "no_tests"  # no test reaches its function (unit tier): counts as surviving
    ERROR = "error"  # the run broke (interrupted, a collection error): not a kill
    OTHER = "other"  # mutmut's "suspicious", a segfault, a skip: not a kill

    @property
    def caught(self) -> bool:
        return self in (Outcome.KILLED, Outcome.TIMEOUT)


# mutmut's exit codes (mutmut/stats.py): a failed test is a kill, a timeout too
_UNIT_OUTCOME = {
    1: Outcome.KILLED,
    3: Outcome.KILLED,
    0: Outcome.SURVIVED,
    5: Outcome.NO_TESTS,
    33: Outcome.NO_TESTS,
    36: Outcome.TIMEOUT,
    -24: Outcome.TIMEOUT,
    24: Outcome.TIMEOUT,
    152: Outcome.TIMEOUT,
    255: Outcome.TIMEOUT,
}


def unit_outcome(exit_code: int) -> Outcome:
    """The unit tier's outcome of a mutant from mutmut's exit code for it."""
    return _UNIT_OUTCOME.get(exit_code, Outcome.OTHER)


@dataclass(frozen=True)
class UnitResult:
    package: str
    outcome: Outcome


def package_of(meta: Path, root: Path) -> str:
    """The package a ``.meta`` file under ``root`` (mutants/src) scores for."""
    parts = meta.relative_to(root).parts  # devmatrix/<pkg>/... or devmatrix/readiness.py.meta
    # the probes were ops/services/readiness.py, scored with the stack (before the split of ops/)
    return "stack" if parts[1] == "readiness.py.meta" else parts[1]


def unit_results(mutants: Path) -> dict[str, UnitResult]:
    """Every checked mutant's unit-tier result, by name (a mutant not checked yet is left out)."""
    root = mutants / "src"
    if not root.is_dir():
        raise UsageError(f"no mutmut results under {root}", fix="run `nox -s mutation` first")
    found = {}
    for meta in sorted(root.rglob("*.py.meta")):
        package = package_of(meta, root)
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code is not None:
                found[name] = UnitResult(package, unit_outcome(code))
    return found


@dataclass(frozen=True)
class IntegrationResult:
    """One mutant's run of its package's integration tests (devmatrix.testing.mutation_integration)."""

    package: str
    outcome: Outcome
    seconds: float
    exit_code: int | None  # pytest's; None when the deadline ended it
    commit: str  # the work tree's, when it ran
    tests: tuple[str, ...]  # what was run
    failed: tuple[str, ...] = ()  # the tests that failed or errored (pytest's -rfE summary)

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "outcome": self.outcome.value, "tests": list(self.tests), "failed": list(self.failed)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> IntegrationResult:
        return cls(
            package=str(data["package"]),
            outcome=Outcome(data["outcome"]),
            seconds=float(data["seconds"]),
            exit_code=data["exit_code"],
            commit=str(data["commit"]),
            tests=tuple(data["tests"]),
            failed=tuple(data.get("failed", ())),
        )


def load_integration(path: Path) -> dict[str, IntegrationResult]:
    """The integration pass's results, by mutant name; none when it has not run."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {name: IntegrationResult.from_json(result) for name, result in data["mutants"].items()}
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"{path} is not the integration pass's results file ({error!r})",
            fix=f"delete {path} and run the integration pass again",
        ) from error


def save_integration(path: Path, results: dict[str, IntegrationResult]) -> None:
    """Write ``results`` whole, through a temporary file: an interrupted pass keeps what it had."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps(
            {"mutants": {name: r.to_json() for name, r in sorted(results.items())}}, indent=1, ensure_ascii=False
        )
    )
    temporary.replace(path)


@dataclass(frozen=True)
class PackageScore:
    """One package's mutants by outcome: the unit tier's, then the integration tier's of the rest."""

    package: str
    unit: Counter[Outcome] = field(default_factory=Counter)
    integration: Counter[Outcome] = field(default_factory=Counter)  # of the unit tier's survivors only

    @property
    def checked(self) -> int:
        return sum(self.unit.values())

    @property
    def unit_caught(self) -> int:
        return sum(n for outcome, n in self.unit.items() if outcome.caught)

    @property
    def integration_caught(self) -> int:
        return sum(n for outcome, n in self.integration.items() if outcome.caught)

    @property
    def left(self) -> int:
        """The unit tier's survivors (survived or no tests) the integration tier has not run."""
        return self.unit[Outcome.SURVIVED] + self.unit[Outcome.NO_TESTS] - sum(self.integration.values())

    def score(self, *, integration: bool) -> float | None:
        """Caught / checked, with or without the integration tier's kills; None when nothing was checked."""
        if not self.checked:
            return None
        return (self.unit_caught + (self.integration_caught if integration else 0)) / self.checked

    def to_json(self) -> dict[str, object]:
        return {
            "package": self.package,
            "checked": self.checked,
            "unit": {o.value: n for o, n in self.unit.items()},
            "integration": {o.value: n for o, n in self.integration.items()},
            "integration_not_run": self.left,
            "unit_score": self.score(integration=False),
            "combined_score": self.score(integration=True),
        }


def scores(
    unit: dict[str, UnitResult], integration: dict[str, IntegrationResult], only: set[str] | None = None
) -> dict[str, PackageScore]:
    """Each package's score over ``only`` (a sample's names) or every checked mutant. An integration
    result counts only for a mutant the unit tier did not kill: a stale one (the unit tier, re-run,
    now kills it) is ignored."""
    table = {p: PackageScore(p) for p in PACKAGES}
    for name, result in unit.items():
        if result.package not in table or (only is not None and name not in only):
            continue
        score = table[result.package]
        score.unit[result.outcome] += 1
        if result.outcome in (Outcome.SURVIVED, Outcome.NO_TESTS) and name in integration:
            score.integration[integration[name].outcome] += 1
    return table


def _percent(value: float | None) -> str:
    return "not run" if value is None else f"{100 * value:.1f}%"


def markdown(table: dict[str, PackageScore]) -> str:
    """The scores as docs/testing.md's table."""
    lines = [
        "| package | checked | unit: killed (of which timeout) | survived | no tests | unit score |"
        " integration: run | killed (of which timeout) | not run | combined score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for package, s in table.items():
        run = sum(s.integration.values())
        unit_score, combined = _percent(s.score(integration=False)), _percent(s.score(integration=True))
        lines.append(
            f"| {package} | {s.checked} | {s.unit_caught} ({s.unit[Outcome.TIMEOUT]}) |"
            f" {s.unit[Outcome.SURVIVED]} | {s.unit[Outcome.NO_TESTS]} | {unit_score} |"
            f" {run} | {s.integration_caught} ({s.integration[Outcome.TIMEOUT]}) | {s.left} |"
            f" {combined if run else '-'} |"
        )
    return "\n".join(lines)
