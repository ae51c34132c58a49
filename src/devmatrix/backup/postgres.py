"""Postgres: `pg_dump -Fc` in one exported snapshot, restores into scratch or swapped databases.

The row counts and content digests of the manifest are read in the same
snapshot pg_dump dumps (``pg_dump --snapshot``), so they describe exactly the
dump even while generations are being written. A live restore goes into a new
database (``restore_into``) which is swapped in by renames (``swap_in``); the live one
is kept under another name until the whole restore is done (``swap_back``
undoes the swap).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path

import psycopg2
from psycopg2 import sql

from devmatrix import clients
from devmatrix._process import run_bounded
from devmatrix.config import Settings
from devmatrix.deadlines import PG_DUMP_TIMEOUT_S, PG_RESTORE_TIMEOUT_S
from devmatrix.errors import BackupError, ServiceError
from devmatrix.retry import retry
from devmatrix.setup import db
from devmatrix.stack.catalog import postgres_bin_dir

RENAME_RETRY_S = 10.0
RENAME_POLL_S = 0.05  # a terminated backend is gone within milliseconds
_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2
"""


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": settings.postgres_password.get_secret_value(),
            "PGCONNECT_TIMEOUT": "5"}


def _conn_args(settings: Settings, dbname: str) -> list[str]:
    return ["-h", settings.postgres_host, "-p", str(settings.postgres_port),
            "-U", settings.postgres_user, "-d", dbname, "--no-password"]


def tool_version(name: str) -> str:
    out = subprocess.run([str(postgres_bin_dir() / name), "--version"], capture_output=True,
                         text=True, check=False).stdout.strip()
    return out.rsplit(" ", 1)[-1] if out else "unknown"


def table_stats(cursor) -> dict[str, dict[str, object]]:
    """Per user table: row count and an order-independent md5 of its rows' text."""
    cursor.execute(_TABLES)
    stats = {}
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '')"
            " FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table)))
        rows, digest = cursor.fetchone()
        stats[f"{schema}.{table}"] = {"rows": rows, "md5": digest}
    return stats


def _server_versions(cursor) -> dict[str, str]:
    cursor.execute("SHOW server_version")
    (server,) = cursor.fetchone()
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    vector = cursor.fetchone()
    return {"postgres": server, "pgvector": vector[0] if vector else "not installed"}


_FROZEN_FIX = clients.fix_for("postgres", "POSTGRES")  # the one fix text for a down or hung server


def dump(settings: Settings, dest: Path) -> dict[str, object]:
    """pg_dump the DevMatrix database to ``dest``; counts and digests from the same snapshot."""
    conn = db._connect(settings, settings.postgres_db)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
            tables = table_stats(cursor)
            versions = _server_versions(cursor)
            cursor.execute("SELECT pg_database_size(current_database())")
            (size,) = cursor.fetchone()
            # the transaction stays open while pg_dump reads in its snapshot
            result = run_bounded(
                [str(postgres_bin_dir() / "pg_dump"), "-Fc", f"--snapshot={snapshot}",
                 "-f", str(dest), *_conn_args(settings, settings.postgres_db)],
                env=_env(settings), timeout_s=PG_DUMP_TIMEOUT_S, service="postgres", fix=_FROZEN_FIX)
        conn.rollback()
    finally:
        conn.close()
    if result.returncode != 0:
        raise BackupError(f"pg_dump of {settings.postgres_db!r} failed: {result.stderr.strip()[-800:]}",
                          fix="check that Postgres is up (`invoke infra.status`) and POSTGRES_* in .env.test")
    return {"database": settings.postgres_db, "database_bytes": size, "tables": tables, "server": versions}


def _admin(settings: Settings):
    conn = db._connect(settings, db.MAINTENANCE_DB)
    conn.autocommit = True  # CREATE/DROP/ALTER DATABASE cannot run in a transaction
    return conn


def drop_database(settings: Settings, name: str) -> None:
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def restore_into(settings: Settings, dump_file: Path, name: str) -> dict[str, dict[str, object]]:
    """Create database ``name``, pg_restore ``dump_file`` into it, return its table stats."""
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    result = run_bounded(
        [str(postgres_bin_dir() / "pg_restore"), "--exit-on-error", "--single-transaction",
         "--no-owner", *_conn_args(settings, name), str(dump_file)],
        env=_env(settings), timeout_s=PG_RESTORE_TIMEOUT_S, service="postgres", fix=_FROZEN_FIX)
    if result.returncode != 0:
        with contextlib.suppress(psycopg2.Error, ServiceError):  # server gone too: the caller drops it
            drop_database(settings, name)
        raise BackupError(f"pg_restore of {dump_file} failed: {result.stderr.strip()[-800:]}",
                          fix="the dump may come from a newer PostgreSQL; restore with matching versions")
    target = db._connect(settings, name)
    try:
        with target.cursor() as cursor:
            return table_stats(cursor)
    finally:
        target.close()


def scratch_name(base: str, role: str) -> str:
    return f"{base[:36]}_{role}_{uuid.uuid4().hex[:8]}"


def data_directory(settings: Settings) -> Path:
    """Where the server keeps its files (to check free disk before a restore)."""
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            return Path(cursor.fetchone()[0])
    finally:
        conn.close()


def flush_to_disk(settings: Settings) -> None:
    """CHECKPOINT: the restored database's pages written and fsynced before it is swapped in.

    Postgres writes new pages lazily; without this a full disk shows up only at
    the next checkpoint, after the swap. Needs superuser or pg_checkpoint (the
    native provider's role is superuser); without them the check is skipped.
    """
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except psycopg2.errors.InsufficientPrivilege:
        return
    except psycopg2.Error as error:
        raise BackupError(f"postgres: writing the restored database to disk failed ({str(error).strip()})",
                          fix="the server's log names the file; usually its disk is full: free space and"
                              " run the restore again") from error
    finally:
        conn.close()


def database_exists(settings: Settings, name: str) -> bool:
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cursor.fetchone() is not None
    finally:
        conn.close()


def swap_in(settings: Settings, incoming: str, old: str) -> None:
    """Rename the live database to ``old`` and ``incoming`` to the live name.

    ``old`` is chosen (and journaled) by the caller before anything is renamed,
    so a restore killed half-way can still find the live database. It is kept
    (connections refused) until the restore deletes it or ``swap_back`` renames
    it back. On an error the live database has its name back before this raises.
    """
    live = settings.postgres_db
    conn = _admin(settings)
    moved = False
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (live,))
            if cursor.fetchone():
                cursor.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false")
                               .format(sql.Identifier(live)))
                _rename_when_free(cursor, live, old)
                moved = True
            cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}")
                           .format(sql.Identifier(incoming), sql.Identifier(live)))
    except psycopg2.Error as error:
        if moved:
            _rename(settings, old, live)
        _allow_connections(settings, live)
        raise BackupError(f"swapping the restored database in for {live!r} failed: {str(error).strip()}",
                          fix="the live database is unchanged; fix the cause and run the restore again") from error
    finally:
        conn.close()


def swap_back(settings: Settings, incoming: str, old: str, *, live_existed: bool = True) -> None:
    """Undo ``swap_in`` from whatever point it reached; safe to retry, also after the restore was killed.

    While ``old`` exists the live name holds the restored database, or nothing:
    that is dropped and ``old`` renamed back. An ``incoming`` still under its
    own name was never swapped in: it is dropped. Without ``old``, the live
    database is the original one (it never moved, or has been renamed back),
    unless there was no live database before the restore.
    """
    live = settings.postgres_db
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (old,))
            if cursor.fetchone() or not live_existed:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(live)))
            if live_existed:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (old,))
                if cursor.fetchone():
                    cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}")
                                   .format(sql.Identifier(old), sql.Identifier(live)))
                cursor.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true")
                               .format(sql.Identifier(live)))
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(incoming)))
    finally:
        conn.close()


def _rename(settings: Settings, name: str, new_name: str) -> None:
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}")
                           .format(sql.Identifier(name), sql.Identifier(new_name)))
    finally:
        conn.close()


def _allow_connections(settings: Settings, name: str) -> None:
    """Undo ALLOW_CONNECTIONS false after a failed swap (best effort: the error is reported)."""
    conn = _admin(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                cursor.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true")
                               .format(sql.Identifier(name)))
    finally:
        conn.close()


def _rename_when_free(cursor, name: str, new_name: str) -> None:
    """Disconnect every client of ``name`` and rename it (clients may need a moment to go)."""
    def attempt() -> None:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(new_name)))

    retry(attempt, on=(psycopg2.errors.ObjectInUse,), timeout_s=RENAME_RETRY_S, wait_s=RENAME_POLL_S)
