#!/usr/bin/env python3
"""Seed §1.3's database script, kept as a thin wrapper over `devmatrix.setup.db`.

Usage: python scripts/setup_test_database.py [--recreate --yes] [--dry]
Without --recreate it only creates what is missing (idempotent); dropping the
database needs --yes.
"""

from __future__ import annotations

import argparse
import sys

from devmatrix.boundary import run_main
from devmatrix.config import load_settings
from devmatrix.setup.db import setup_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recreate", action="store_true", help="drop the database first")
    parser.add_argument("--yes", action="store_true", help="confirm --recreate")
    parser.add_argument("--dry", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args()
    return run_main(lambda: _setup(args))


def _setup(args: argparse.Namespace) -> int:
    settings = load_settings()
    for result in setup_database(settings, recreate=args.recreate, confirmed=args.yes or args.dry, dry=args.dry):
        print(f"{result.status.value}: {result.name}: {result.detail}")
    print(f"Test database {settings.postgres_db} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
