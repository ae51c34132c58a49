#!/usr/bin/env python3
"""Seed §5.1's validation script: the same checks as `invoke validate`, as plain text.

Usage: python scripts/validate_local_production.py [--json] [--env-file PATH]
Exit codes: 0 ready, 1 a critical check failed, 2 the checks could not run.
"""

from __future__ import annotations

import argparse
import json
import sys

from devmatrix.boundary import run_main
from devmatrix.checks.validate import validate
from devmatrix.config import env_file_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON (for scripts)")
    parser.add_argument("--env-file", default=None, help="settings file (default: DEVMATRIX_ENV_FILE or .env.test)")
    args = parser.parse_args()
    return run_main(lambda: _validate(args))


def _validate(args: argparse.Namespace) -> int:
    report = validate(env_file_path(args.env_file))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        if not report.error:
            print(report.title)
            for r in report.results:
                print(f"  {r.status.value:11} {r.name}{'' if r.critical else ' (non-critical)'}"
                      f" [{r.seconds:.2f}s] {r.detail}")
            print(report.summary)
        print(report.verdict)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
