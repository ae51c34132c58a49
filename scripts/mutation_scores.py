"""Mutation scores per package from mutmut's results (`nox -s mutation`; docs/testing.md).

    python scripts/mutation_scores.py [--mutants DIR] [--only NAMES_FILE] [--json OUT]

Reads the ``*.meta`` files mutmut writes beside each mutated module under ``mutants/src``.
A mutant counts as killed when a test failed (or timed out) with it in place; one that no
test reaches ("no tests") counts as surviving, as do the ones that survived. ``--only``
scores the mutants named in a file, one a line (a sample), instead of every one checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from devmatrix.boundary import run_main
from devmatrix.errors import UsageError

PACKAGES = ("llm", "rag", "api", "stack", "backup")
# mutmut's exit codes (mutmut/stats.py): a failed test is a kill, a timeout too
KILLED, TIMEOUT, SURVIVED, NO_TESTS = {1, 3}, {36, -24, 24, 152, 255}, {0}, {5, 33}


def package_of(meta: Path, root: Path) -> str:
    parts = meta.relative_to(root).parts  # devmatrix/<pkg>/... or devmatrix/readiness.py.meta
    # the probes were ops/services/readiness.py, scored with the stack (before the split of ops/)
    return "stack" if parts[1] == "readiness.py.meta" else parts[1]


def results(mutants: Path) -> dict[str, tuple[str, int | None]]:
    """Every mutant's (package, exit code), by name."""
    root = mutants / "src"
    found = {}
    for meta in sorted(root.rglob("*.py.meta")):
        package = package_of(meta, root)
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = (package, code)
    return found


def scores(found: dict[str, tuple[str, int | None]], only: set[str] | None = None) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = {p: Counter() for p in PACKAGES}
    for name, (package, code) in found.items():
        if package not in table or (only is not None and name not in only) or code is None:
            continue
        kind = ("killed" if code in KILLED else "timeout" if code in TIMEOUT else "survived" if code in SURVIVED
                else "no_tests" if code in NO_TESTS else "other")
        table[package][kind] += 1
        table[package]["checked"] += 1
    return {p: dict(c) for p, c in table.items()}


def markdown(table: dict[str, dict[str, int]]) -> str:
    lines = ["| package | killed | timeout | survived | no tests | checked | score |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for package, c in table.items():
        checked = c.get("checked", 0)
        caught = c.get("killed", 0) + c.get("timeout", 0)
        score = f"{100 * caught / checked:.1f}%" if checked else "not run"
        lines.append(f"| {package} | {c.get('killed', 0)} | {c.get('timeout', 0)} | {c.get('survived', 0)} |"
                     f" {c.get('no_tests', 0)} | {checked} | {score} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's mutants directory")
    parser.add_argument("--only", type=Path, help="score only the mutants named in this file, one a line")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)

    def body() -> int:
        if not (args.mutants / "src").is_dir():
            raise UsageError(f"no mutmut results under {args.mutants}/src", fix="run `nox -s mutation` first")
        only = set(args.only.read_text().split()) if args.only else None
        table = scores(results(args.mutants), only)
        print(markdown(table))
        if args.json:
            args.json.write_text(json.dumps(table, indent=1))
        return 0

    return run_main(body)

if __name__ == "__main__":
    sys.exit(main())
