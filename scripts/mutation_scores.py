"""Mutation scores per package, unit and integration tiers (`nox -s mutation`; docs/testing.md).

    python scripts/mutation_scores.py [--mutants DIR] [--only NAMES_FILE] [--json OUT]

The unit tier's results are mutmut's ``*.meta`` files under ``mutants/src``; the integration
tier's, ``mutants/integration-results.json`` (`nox -s mutation_integration`), count only for the
mutants the unit tier did not kill. A timeout is a kill; "no tests" counts as surviving.
``--only`` scores the mutants named in a file, one a line (a sample), instead of every one checked.
The logic is devmatrix.testing.mutation_results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from devmatrix.boundary import run_main
from devmatrix.testing.mutation_results import INTEGRATION_RESULTS, load_integration, markdown, scores, unit_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's mutants directory")
    parser.add_argument("--only", type=Path, help="score only the mutants named in this file, one a line")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)

    def body() -> int:
        only = set(args.only.read_text().split()) if args.only else None
        table = scores(unit_results(args.mutants), load_integration(args.mutants / INTEGRATION_RESULTS), only)
        print(markdown(table))
        if args.json:
            args.json.write_text(json.dumps({p: s.to_json() for p, s in table.items()}, indent=1))
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
