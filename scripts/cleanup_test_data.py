#!/usr/bin/env python3
"""Seed §5.2's cleanup script, kept as a thin wrapper: same as `invoke cleanup`.

Usage: python scripts/cleanup_test_data.py [--dry] [--yes] [--postgres] [--redis] [--chroma] [--workspace]
No scope flag means every scope. What counts as test data: devmatrix.backup.cleanup.
Exit codes: 0 done, 1 a store could not be cleaned, 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys

from devmatrix.backup.cleanup import SCOPES, cleanup
from devmatrix.boundary import run_main
from devmatrix.config import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Remove DevMatrix test data, and only test data.")
    parser.add_argument("--dry", action="store_true", help="list what would be removed; change nothing")
    parser.add_argument("--yes", action="store_true",
                        help="also clean servers this stack's native provider does not run (compose, external)")
    for scope in SCOPES:
        parser.add_argument(f"--{scope}", action="store_true", help=f"clean {scope} (default: every scope)")
    args = parser.parse_args(argv)
    scopes = [scope for scope in SCOPES if getattr(args, scope)] or list(SCOPES)

    def clean() -> int:
        results = cleanup(load_settings(), scopes=scopes, dry=args.dry, confirmed=args.yes,
                          echo=lambda line: print(line, file=sys.stderr))
        for result in results:
            print(f"{result.name}: {result.detail}")
        return 1 if any(result.failed for result in results) else 0

    return run_main(clean)


if __name__ == "__main__":
    sys.exit(main())
