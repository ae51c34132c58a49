"""Phase `db` (seed §1.3): the DevMatrix database, pgvector, and a versioned schema.

Creating is idempotent; dropping happens only with explicit confirmation.
Migrations are SQL files in `devmatrix/state/migrations/`, applied once each in
name order and recorded in `schema_migrations` with their checksum.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from psycopg2 import sql

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.errors import ConfirmationRequired, ServiceError
from devmatrix.results import CheckResult, Status

MAINTENANCE_DB = "postgres"


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    folder = resources.files("devmatrix.state") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def _connect(settings: Settings, dbname: str):
    """An admin connection with the stack's deadlines (devmatrix.clients)."""
    return clients.postgres_connect(settings, database=dbname)


def database_exists(settings: Settings) -> bool:
    conn = _connect(settings, MAINTENANCE_DB)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,))
            return cursor.fetchone() is not None
    finally:
        conn.close()


def pending_migrations(settings: Settings) -> list[Migration]:
    """Migrations not yet applied (all of them when the database does not exist)."""
    if not database_exists(settings):
        return migrations()
    conn = _connect(settings, settings.postgres_db)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return migrations()
            cursor.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cursor.fetchall()}
    finally:
        conn.close()
    return [m for m in migrations() if m.version not in done]


def setup_database(
    settings: Settings, *, recreate: bool = False, confirmed: bool = False, dry: bool = False
) -> list[CheckResult]:
    """Create the database if missing, enable pgvector, apply pending migrations."""
    name = settings.postgres_db
    results: list[CheckResult] = []
    if recreate and not confirmed:
        raise ConfirmationRequired(
            f"refusing to drop database {name!r} without confirmation",
            fix="answer the prompt in a terminal, or pass --yes",
        )
    exists = database_exists(settings)
    if dry:
        plan = [f"drop and recreate {name}"] if recreate and exists else (
            [] if exists else [f"create database {name}"])
        pending = migrations() if recreate or not exists else pending_migrations(settings)
        plan += [f"apply migration {m.version}" for m in pending]
        return [CheckResult("database", Status.SKIPPED, "would " + "; ".join(plan) if plan
                            else f"{name} is up to date; nothing to do")]
    admin = _connect(settings, MAINTENANCE_DB)
    admin.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with admin.cursor() as cursor:
            if recreate and exists:
                cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                results.append(CheckResult("database", Status.PASS, f"dropped {name}"))
                exists = False
            if not exists:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                results.append(CheckResult("database", Status.PASS, f"created {name}"))
    finally:
        admin.close()
    results.append(_migrate(settings))
    return results


def _migrate(settings: Settings) -> CheckResult:
    conn = _connect(settings, settings.postgres_db)
    applied: list[str] = []
    try:
        with conn, conn.cursor() as cursor:
            # one migrator at a time, even if two setups race
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('devmatrix-migrations'))")
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
            )
            cursor.execute("SELECT version, checksum FROM schema_migrations")
            done = dict(cursor.fetchall())
            for migration in migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise ServiceError(
                            "postgres",
                            f"migration {migration.version} changed after it was applied",
                            fix="never edit an applied migration; add a new numbered file",
                        )
                    continue
                cursor.execute(migration.sql)
                cursor.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (migration.version, migration.checksum),
                )
                applied.append(migration.version)
    finally:
        conn.close()
    if applied:
        return CheckResult("schema", Status.PASS, f"applied {', '.join(applied)}")
    return CheckResult("schema", Status.SKIPPED, "schema up to date")
