"""What a restored store must hold to match its backup's manifest (shared by verify and restore)."""

from __future__ import annotations

from devmatrix.results import CheckResult, Status


def tables_problems(expected: dict, found: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if want is None or got is None:
            problems.append(f"table {table}: {'missing after restore' if got is None else 'not in the backup'}")
        elif want != got:
            problems.append(f"table {table}: {got['rows']} rows (md5 {got['md5'][:8]}), the backup has"
                            f" {want['rows']} (md5 {want['md5'][:8]})")
    return problems


def result(name: str, problems: list[str], ok: str, seconds: float, **data: object) -> CheckResult:
    if problems:
        return CheckResult(name, Status.FAIL, "; ".join(problems), seconds=seconds, data=dict(data))
    return CheckResult(name, Status.PASS, ok, seconds=seconds, data=dict(data))


def redis_counts_problems(expected: dict, loaded: dict[str, int]) -> list[str]:
    """Loaded keys must be the RDB's keys, less at most the keys whose expiry has passed since."""
    total = sum(loaded.values())
    if expected["keys"] - expected["expires"] <= total <= expected["keys"]:
        return []
    return [f"redis: {total} keys loaded, the backup has {expected['keys']} ({expected['expires']} with expiry)"]
