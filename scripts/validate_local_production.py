#!/usr/bin/env python3
"""Seed §5.1's validation script, kept as a thin wrapper: same as `invoke validate`.

Usage: python scripts/validate_local_production.py [--json]
Exit codes: 0 ready, 1 a critical check failed, 2 the checks could not run.
"""

from __future__ import annotations

import sys

from invoke import Exit

from devmatrix.tasks.phases import validate


def main() -> int:
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)
        return 0
    try:
        validate.body(None, json="--json" in sys.argv[1:])
    except Exit as stop:
        return stop.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
