"""`invoke cleanup` (seed §5.2): remove test data, and only test data.

What counts as test data is fixed here and nowhere else:

| store     | test data                                                                      |
| postgres  | `code_generation_logs` and `workflows` rows (with their `workflow_tasks`) whose |
|           | workspace_id starts with a TEST_WORKSPACE_PREFIXES entry, or whose metadata    |
|           | says ``{"test": true}``                                                        |
| redis     | keys matching ``test:*``                                                       |
| chroma    | collections named ``test_*`` (and ``validate_scratch_*`` left by a killed       |
|           | `invoke validate`)                                                             |
| workspace | everything inside WORKSPACE_DIR except its own ``.git`` and ``.gitkeep``, and   |
|           | only when that directory's name says it is a test workspace (``*test*``)       |

Anything else is never touched. ``dry`` lists what would go and changes nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import redis

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, ServiceError
from devmatrix.ops import db
from devmatrix.ops.backup.chroma import ChromaHTTP
from devmatrix.ops.checks import CheckResult, Status, timed

SCOPES = ("postgres", "redis", "chroma", "workspace")
# `devmatrix_test_` is the prefix of the integration fixtures' temporary workspaces.
TEST_WORKSPACE_PREFIXES = ("test_", "test-", "devmatrix_test_")
TEST_REDIS_PATTERN = "test:*"
TEST_COLLECTION_PREFIXES = ("test_", "validate_scratch_")
KEEP_IN_WORKSPACE = (".git", ".gitkeep")
SHOWN = 10  # how many names a result lists before "… and N more"
_IS_TEST_ROW = ("(EXISTS (SELECT 1 FROM unnest(%(prefixes)s::text[]) p WHERE starts_with(workspace_id, p))"
                " OR {metadata})")


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" … and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _result(scope: str, items: list[str], what: str, dry: bool) -> CheckResult:
    if not items:
        return CheckResult(scope, Status.SKIPPED, f"no test {what}", data={"items": []})
    verb = "would remove" if dry else "removed"
    status = Status.SKIPPED if dry else Status.PASS
    return CheckResult(scope, status, f"{verb} {len(items)} test {what}: {_listing(items)}", data={"items": items})


def _postgres(settings: Settings, dry: bool) -> CheckResult:
    if not db.database_exists(settings):
        return CheckResult("postgres", Status.SKIPPED, f"database {settings.postgres_db} does not exist")
    conn = db._connect(settings, settings.postgres_db)
    items: list[str] = []
    params = {"prefixes": list(TEST_WORKSPACE_PREFIXES)}
    try:
        with conn, conn.cursor() as cursor:
            for table, has_metadata in (("code_generation_logs", True), ("workflows", False)):
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                if not cursor.fetchone()[0]:
                    continue
                where = _IS_TEST_ROW.format(metadata="metadata @> '{\"test\": true}'" if has_metadata else "false")
                cursor.execute(f"SELECT workspace_id, count(*) FROM {table} WHERE {where}"  # noqa: S608 - fixed names
                               " GROUP BY 1 ORDER BY 1", params)
                items += [f"{table}: {n} row(s) of workspace {ws}" for ws, n in cursor.fetchall()]
                if not dry:
                    cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608 - fixed names
    finally:
        conn.close()
    return _result("postgres", items, "row groups", dry)


def _redis(settings: Settings, dry: bool) -> CheckResult:
    client = clients.redis_client(settings)
    try:
        keys = sorted(client.scan_iter(match=TEST_REDIS_PATTERN, count=1000))
        if keys and not dry:
            for start in range(0, len(keys), 1000):
                client.unlink(*keys[start:start + 1000])
    except redis.RedisError as error:
        raise ServiceError("redis", f"cleanup at {settings.redis_host}:{settings.redis_port} failed: {error}",
                           fix="`invoke infra.up -s redis`") from error
    finally:
        client.close()
    return _result("redis", keys, f"keys ({TEST_REDIS_PATTERN})", dry)


def _chroma(settings: Settings, dry: bool) -> CheckResult:
    with ChromaHTTP(settings.chroma_url) as chroma:
        names = [c["name"] for c in chroma.collections() if c["name"].startswith(TEST_COLLECTION_PREFIXES)]
        if not dry:
            for name in names:
                chroma.delete(name)
    return _result("chroma", names, "collections", dry)


def _workspace(settings: Settings, dry: bool) -> CheckResult:
    root = settings.workspace_dir
    if "test" not in root.resolve().name.lower():
        return CheckResult("workspace", Status.SKIPPED,
                           f"WORKSPACE_DIR={root} is not a test workspace (its name has no 'test'); not touched")
    if not root.is_dir():
        return CheckResult("workspace", Status.SKIPPED, f"{root} does not exist")
    entries = sorted(p for p in root.iterdir() if p.name not in KEEP_IN_WORKSPACE)
    if not dry:
        for path in entries:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return _result("workspace", [f"{root}/{p.name}" for p in entries], "workspace entries", dry)


_CLEANERS = {"postgres": _postgres, "redis": _redis, "chroma": _chroma, "workspace": _workspace}


def cleanup(settings: Settings, *, scopes: Iterable[str] = SCOPES, dry: bool = False) -> list[CheckResult]:
    """Remove (or with ``dry`` list) the test data of each scope; one result per scope."""
    chosen = list(scopes) or list(SCOPES)
    unknown = [s for s in chosen if s not in _CLEANERS]
    if unknown:
        raise DevMatrixError(f"unknown cleanup scope(s): {', '.join(unknown)}",
                             fix=f"choose from {', '.join(SCOPES)}")
    results = []
    for scope in chosen:
        with timed() as elapsed:
            result = _CLEANERS[scope](settings, dry)
        result.seconds = elapsed()
        results.append(result)
    return results
