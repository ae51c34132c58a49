"""The integration pass over the mutants the unit tier left (docs/testing.md; `nox -s mutation_integration`).

    DEVMATRIX_ENV_FILE=ROOT/settings.env python scripts/mutation_integration.py --package llm
        [--only NAMES_FILE] [--mutants DIR] [--deadline S] [--minutes M] [--again]

Needs mutmut's results (`nox -s mutation` first) and a side stack up (`python -m
devmatrix.setup.side_stack ROOT`, then `invoke phase1` with that DEVMATRIX_ENV_FILE). Writes
mutants/integration-results.json; `python scripts/mutation_scores.py` reads it. The logic is
devmatrix.testing.mutation_integration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from devmatrix._process import run_bounded
from devmatrix.boundary import run_main
from devmatrix.config import ENV_FILE_VARIABLE
from devmatrix.errors import UsageError
from devmatrix.testing.mutation_integration import INTEGRATION_TESTS, Pytest, run_pass, to_run
from devmatrix.testing.mutation_results import unit_results

GIT_COMMIT_S = 10  # a local `git rev-parse`: milliseconds; more means a stuck file system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--package",
        action="append",
        choices=sorted(INTEGRATION_TESTS),
        required=True,
        help="a package whose unit-tier survivors to run (repeat for more)",
    )
    parser.add_argument("--only", type=Path, help="only the mutants named in this file, one a line (a sample)")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's mutants directory")
    parser.add_argument("--deadline", type=float, help="seconds per mutant (default: 3x the clean run, >= 120)")
    parser.add_argument("--minutes", type=float, help="start no mutant after this many minutes")
    parser.add_argument("--again", action="store_true", help="run mutants that have a result already")
    args = parser.parse_args(argv)

    def body() -> int:
        env_file = os.environ.get(ENV_FILE_VARIABLE)
        if not env_file:
            raise UsageError(
                f"the integration pass needs a side stack, and {ENV_FILE_VARIABLE} is not set",
                fix=f"python -m devmatrix.setup.side_stack ROOT; {ENV_FILE_VARIABLE}=ROOT/settings.env"
                " invoke phase1; then run this with that variable (the tests run in mutants/,"
                " so ROOT must be an absolute path)",
            )
        unit = unit_results(args.mutants)
        only = set(args.only.read_text().split()) if args.only else None
        names = to_run(unit, args.package, only)
        commit = (
            run_bounded(["git", "rev-parse", "--short", "HEAD"], timeout_s=GIT_COMMIT_S, service="git",
                        fix="check the work tree's git (`git status`)").stdout.strip()
            or "unknown"  # not a git work tree: the results are still the pass's, named so
        )
        print(
            f"{len(names)} mutant(s) the unit tier did not kill, of {', '.join(args.package)}; commit {commit}",
            flush=True,
        )
        env = {**os.environ, ENV_FILE_VARIABLE: str(Path(env_file).absolute())}
        stop_at = time.monotonic() + 60 * args.minutes if args.minutes else None
        run_pass(
            Pytest(sys.executable, args.mutants, env),
            names,
            unit,
            commit=commit,
            deadline_s=args.deadline,
            again=args.again,
            stop_at=stop_at,
            log=lambda line: print(line, flush=True),
        )
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
