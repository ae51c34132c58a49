"""`invoke cleanup` (seed §5.2): remove test data, scoped by proof.

What counts as test data is fixed here and nowhere else:

| store     | test data                                                                      |
| postgres  | `code_generation_logs` and `workflows` rows (with their `workflow_tasks`) whose |
|           | workspace_id starts with a TEST_WORKSPACE_PREFIXES entry, or whose metadata    |
|           | says ``{"test": true}``                                                        |
| redis     | keys matching ``test:*``                                                       |
| chroma    | collections named ``test_*`` (and ``validate_scratch_*`` left by a killed       |
|           | `invoke validate`)                                                             |
| workspace | folders directly inside WORKSPACE_DIR that hold a ``.devmatrix-workspace``      |
|           | marker naming that folder, written by DevMatrix when it created the workspace   |
|           | with ENVIRONMENT=test; nothing else in WORKSPACE_DIR, whatever its name         |
|           | (so with ENVIRONMENT=test, the CLI's `default` workspace is test data too)     |

Proof of ownership: the servers' test data is removed without ``confirmed`` only
when the native provider of this state dir runs that server (its supervisor has
it running); on a compose or external server, or one this stack does not run,
the same names may be someone else's data, so that scope is refused unless
confirmed (`--yes`). Everything is listed before anything is deleted; ``dry``
only lists.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import redis

from devmatrix import clients
from devmatrix.backup.chroma import ChromaHTTP
from devmatrix.config import Settings, env_file_path
from devmatrix.errors import DevMatrixError
from devmatrix.results import CheckResult, Status, timed
from devmatrix.setup import db
from devmatrix.stack import registry
from devmatrix.stack.native import NativeProvider
from devmatrix.workspace.manager import MARKER, read_marker

SERVERS = registry.stores()  # every store of the registry; a test holds _LIST and _REMOVE to it
SCOPES = (*SERVERS, "workspace")
# `devmatrix_test_` is the prefix of the integration fixtures' temporary workspaces.
TEST_WORKSPACE_PREFIXES = ("test_", "test-", "devmatrix_test_")
TEST_REDIS_PATTERN = "test:*"
TEST_COLLECTION_PREFIXES = ("test_", "validate_scratch_")
TEST_ENVIRONMENT = "test"  # a workspace marker from this environment marks test data
SHOWN = 10  # how many names a result lists before "… and N more"
_IS_TEST_ROW = ("(EXISTS (SELECT 1 FROM unnest(%(prefixes)s::text[]) p WHERE starts_with(workspace_id, p))"
                " OR {metadata})")
_TABLES = (("code_generation_logs", True), ("workflows", False))

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class ScopePlan:
    """What cleanup will remove in one scope, or why it will not."""

    scope: str
    what: str
    items: list[str] = field(default_factory=list)
    refused: str | None = None  # why this scope is not cleaned (it needs --yes)
    kept: list[str] = field(default_factory=list)  # lookalikes left alone, with the reason


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" … and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


# --- proof that a server is ours -------------------------------------------------------
def not_ours(settings: Settings, service: str) -> str | None:
    """None when this stack's native provider runs ``service``; else why it is not known to be ours."""
    if settings.devmatrix_provider not in ("native", "auto"):
        return f"DEVMATRIX_PROVIDER={settings.devmatrix_provider}: DevMatrix does not run this server"
    try:
        (state,) = NativeProvider(settings, env_file=env_file_path(), echo=_quiet).status((service,))
    except DevMatrixError as error:
        return f"the native provider cannot tell ({error.message})"
    if not (state.running and state.healthy):
        return (f"{service} at {state.url} is not run by the native provider of"
                f" {settings.devmatrix_state_dir} ({state.detail or 'not running under its supervisor'})")
    return None


# --- per scope: list, then remove --------------------------------------------------------
def _postgres_list(settings: Settings) -> list[str]:
    if not db.database_exists(settings):
        return []
    conn = db._connect(settings, settings.postgres_db)
    items: list[str] = []
    try:
        with conn, conn.cursor() as cursor:
            for table, has_metadata in _TABLES:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                if not cursor.fetchone()[0]:
                    continue
                cursor.execute(f"SELECT workspace_id, count(*) FROM {table} WHERE {_where(has_metadata)}"  # noqa: S608
                               " GROUP BY 1 ORDER BY 1", {"prefixes": list(TEST_WORKSPACE_PREFIXES)})
                items += [f"{table}: {n} row(s) of workspace {ws}" for ws, n in cursor.fetchall()]
    finally:
        conn.close()
    return items


def _where(has_metadata: bool) -> str:
    return _IS_TEST_ROW.format(metadata="metadata @> '{\"test\": true}'" if has_metadata else "false")


def _postgres_remove(settings: Settings, _: list[str]) -> None:
    conn = db._connect(settings, settings.postgres_db)
    try:
        with conn, conn.cursor() as cursor:
            for table, has_metadata in _TABLES:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                if cursor.fetchone()[0]:
                    cursor.execute(f"DELETE FROM {table} WHERE {_where(has_metadata)}",  # noqa: S608 - fixed names
                                   {"prefixes": list(TEST_WORKSPACE_PREFIXES)})
    finally:
        conn.close()


def _redis_client(settings: Settings) -> redis.Redis:
    return clients.redis_client(settings)


def _redis_call(settings: Settings, step: Callable[[redis.Redis], object]) -> object:
    client = _redis_client(settings)
    try:
        with clients.map_exceptions("redis", f"cleanup at {settings.redis_host}:{settings.redis_port} failed",
                                    fix="`invoke infra.up -s redis`"):
            return step(client)
    finally:
        client.close()


def _redis_list(settings: Settings) -> list[str]:
    return _redis_call(settings, lambda c: sorted(c.scan_iter(match=TEST_REDIS_PATTERN, count=1000)))


def _redis_remove(settings: Settings, keys: list[str]) -> None:
    def unlink(client: redis.Redis) -> None:
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start:start + 1000])

    _redis_call(settings, unlink)


def _chroma_list(settings: Settings) -> list[str]:
    with ChromaHTTP(settings.chroma_url) as chroma:
        return [c["name"] for c in chroma.collections() if c["name"].startswith(TEST_COLLECTION_PREFIXES)]


def _chroma_remove(settings: Settings, names: list[str]) -> None:
    with ChromaHTTP(settings.chroma_url) as chroma:
        for name in names:
            chroma.delete(name)


def _workspace_plan(settings: Settings) -> ScopePlan:
    root = settings.workspace_dir
    plan = ScopePlan("workspace", "workspaces")
    if not root.is_dir():
        return plan
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name != ".git"):
        marker = read_marker(path)
        if marker is None:
            plan.kept.append(f"{path} (no {MARKER} marker naming it: DevMatrix did not create it)")
        elif marker.get("environment") != TEST_ENVIRONMENT:
            plan.kept.append(f"{path} (created with ENVIRONMENT={marker.get('environment')}: not test data)")
        else:
            plan.items.append(str(path))
    return plan


def _workspace_remove(settings: Settings, paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path)


_LIST = {"postgres": (_postgres_list, "row groups"), "redis": (_redis_list, f"keys ({TEST_REDIS_PATTERN})"),
         "chroma": (_chroma_list, "collections")}
_REMOVE = {"postgres": _postgres_remove, "redis": _redis_remove, "chroma": _chroma_remove,
           "workspace": _workspace_remove}


def plan_cleanup(settings: Settings, scopes: Iterable[str], *, confirmed: bool) -> list[ScopePlan]:
    """What each scope would remove; a server scope not run by the native provider is refused unless confirmed."""
    plans = []
    for scope in scopes:
        if scope == "workspace":
            plans.append(_workspace_plan(settings))
            continue
        lister, what = _LIST[scope]
        plan = ScopePlan(scope, what, lister(settings))
        if plan.items and not confirmed:
            plan.refused = not_ours(settings, scope)
        plans.append(plan)
    return plans


def _describe(plan: ScopePlan, dry: bool) -> str:
    if plan.refused:
        return (f"not removed: {len(plan.items)} test {plan.what} ({_listing(plan.items)}), because {plan.refused};"
                f" the same names may be someone else's data — fix: pass --yes to remove them there")
    if not plan.items:
        return f"no test {plan.what}"
    return f"{'would remove' if dry else 'removed'} {len(plan.items)} test {plan.what}: {_listing(plan.items)}"


def cleanup(settings: Settings, *, scopes: Iterable[str] = SCOPES, dry: bool = False, confirmed: bool = False,
            echo: Echo = _quiet) -> list[CheckResult]:
    """List, then remove (unless ``dry``) the test data of each scope; one result per scope."""
    chosen = list(scopes) or list(SCOPES)
    unknown = [s for s in chosen if s not in _REMOVE]
    if unknown:
        raise DevMatrixError(f"unknown cleanup scope(s): {', '.join(unknown)}",
                             fix=f"choose from {', '.join(SCOPES)}")
    with timed() as elapsed:
        plans = plan_cleanup(settings, chosen, confirmed=confirmed)
    for plan in plans:  # everything is listed before anything is deleted
        for item in plan.items:
            echo(f"{'would remove' if dry or plan.refused else 'will remove'} {plan.scope}: {item}"
                 + (" (refused: needs --yes)" if plan.refused else ""))
        for kept in plan.kept:
            echo(f"keeps {plan.scope}: {kept}")
    listed = elapsed()
    results = []
    for plan in plans:
        with timed() as elapsed:
            if plan.items and not dry and not plan.refused:
                _REMOVE[plan.scope](settings, plan.items)
        status = (Status.FAIL if plan.refused else Status.SKIPPED if dry or not plan.items else Status.PASS)
        results.append(CheckResult(plan.scope, status, _describe(plan, dry), seconds=listed + elapsed(),
                                   data={"items": plan.items, "kept": plan.kept, "refused": plan.refused}))
    return results
