"""`invoke backup`, `backup.verify`, `restore` (seed §5.3): backups that can be trusted.

- backup: Postgres (pg_dump -Fc in one snapshot), Redis (BGSAVE → RDB,
  redis-check-rdb), Chroma (export over its HTTP API) into a new folder with a
  manifest of versions, sizes, sha256 and counts; then retention of the last N.
- verify: restores into scratch places only (a scratch database, a scratch
  redis-server, a scratch Chroma server on a temp directory) and compares with
  the manifest. Live data is never touched.
- restore: refuses a backup that does not match its manifest (naming the file),
  needs confirmation, restores all three, compares with the manifest, then
  runs `validate`.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.config import Settings, env_file_path
from devmatrix.errors import BackupError, ConfirmationRequired
from devmatrix.ops.backup import chroma, manifest, postgres
from devmatrix.ops.backup import redis as redis_backup
from devmatrix.ops.checks import CheckResult, Status, timed

PG_DUMP = "postgres/{db}.dump"
RDB = "redis/dump.rdb"
CHROMA_DIR = "chroma"

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class BackupReport:
    path: Path
    seconds: float
    manifest: dict = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)
    dry: bool = False

    def to_dict(self) -> dict[str, object]:
        files = self.manifest.get("files", {})
        return {"path": str(self.path), "dry": self.dry, "seconds": round(self.seconds, 3),
                "bytes": sum(f["bytes"] for f in files.values()), "files": len(files),
                "removed": [str(p) for p in self.removed], "manifest": self.manifest}


def _tools() -> dict[str, str]:
    return {"devmatrix": importlib.metadata.version("devmatrix-local"), "python": platform.python_version(),
            "pg_dump": postgres.tool_version("pg_dump"), "pg_restore": postgres.tool_version("pg_restore"),
            "redis-check-rdb": redis_backup.tool_version(), "chromadb": importlib.metadata.version("chromadb")}


def create_backup(settings: Settings, *, to: Path | None = None, keep: int | None = None,
                  dry: bool = False, echo: Echo = _quiet) -> BackupReport:
    """Back up all three stores into a new folder under ``to``; keep the newest ``keep``."""
    root = Path(to or settings.backup_dir)
    keep = settings.backup_keep if keep is None else keep
    name = manifest.new_name()
    if keep < 1:
        raise BackupError(f"--keep {keep} would delete every backup, this one included", fix="keep at least 1")
    if dry:  # the new backup counts towards the N kept
        existing = manifest.complete_backups(root)
        return BackupReport(root / name, 0.0, dry=True, removed=existing[:max(0, len(existing) - keep + 1)])
    partial = root / (name + manifest.PARTIAL)
    (partial / "postgres").mkdir(parents=True)
    (partial / "redis").mkdir()
    with timed() as elapsed:
        try:
            echo(f"postgres: pg_dump {settings.postgres_db} …")
            pg = postgres.dump(settings, partial / PG_DUMP.format(db=settings.postgres_db))
            echo("redis: BGSAVE …")
            rd = redis_backup.snapshot(settings, partial / RDB)
            echo("chroma: exporting collections …")
            ch = chroma.export(settings.chroma_url, partial / CHROMA_DIR)
            body = {
                "format": manifest.FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "name": name, "tools": _tools(),
                "servers": {**pg.pop("server"), "redis": rd.pop("server"), "chroma": ch.pop("server")},
                "postgres": {**pg, "file": PG_DUMP.format(db=settings.postgres_db)},
                "redis": {**rd, "file": RDB},
                "chroma": ch, "files": manifest.describe_files(partial),
            }
            manifest.write_manifest(partial, body)
            final = root / name
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        removed = manifest.apply_retention(root, keep)
    return BackupReport(final, elapsed(), body, removed)


def _load(folder: Path) -> dict:
    body = manifest.read_manifest(folder)
    manifest.check_integrity(folder, body)
    for name in body["chroma"]["collections"]:
        if f"{CHROMA_DIR}/{name}.jsonl.gz" not in body["files"]:
            raise BackupError(f"{folder / manifest.MANIFEST} lists Chroma collection {name!r} without its file",
                              fix="the manifest was edited or damaged; use another backup")
    return body


def _tables_problems(expected: dict, found: dict) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if want is None or got is None:
            problems.append(f"table {table}: {'missing after restore' if got is None else 'not in the backup'}")
        elif want != got:
            problems.append(f"table {table}: {got['rows']} rows (md5 {got['md5'][:8]}), the backup has"
                            f" {want['rows']} (md5 {want['md5'][:8]})")
    return problems


def _result(name: str, problems: list[str], ok: str, seconds: float, **data: object) -> CheckResult:
    if problems:
        return CheckResult(name, Status.FAIL, "; ".join(problems), seconds=seconds, data=dict(data))
    return CheckResult(name, Status.PASS, ok, seconds=seconds, data=dict(data))


def _redis_counts_problems(expected: dict, loaded: dict[str, int]) -> list[str]:
    """Loaded keys must be the RDB's keys, less at most the keys whose expiry has passed since."""
    total = sum(loaded.values())
    if expected["keys"] - expected["expires"] <= total <= expected["keys"]:
        return []
    return [f"redis: {total} keys loaded, the backup has {expected['keys']} ({expected['expires']} with expiry)"]


def verify_backup(settings: Settings, folder: Path, *, echo: Echo = _quiet) -> list[CheckResult]:
    """Restore into scratch places and compare with the manifest; never touches live data."""
    results = []
    with timed() as elapsed:
        body = _load(folder)
    results.append(CheckResult("checksums", Status.PASS, f"{len(body['files'])} files match manifest.json",
                               seconds=elapsed()))
    pg = body["postgres"]
    with timed() as elapsed:
        scratch = postgres.scratch_name(settings.postgres_db, "verify")
        echo(f"postgres: pg_restore into scratch database {scratch} …")
        try:
            tables = postgres.restore_into(settings, folder / pg["file"], scratch)
        finally:
            postgres.drop_database(settings, scratch)
    rows = sum(t["rows"] for t in tables.values())
    results.append(_result("postgres", _tables_problems(pg["tables"], tables),
                           f"{len(tables)} tables, {rows} rows restored into a scratch database (dropped);"
                           " counts and digests match", elapsed(), tables=tables))
    rd = body["redis"]
    with timed() as elapsed:
        echo("redis: redis-check-rdb, then a scratch redis-server …")
        checked = redis_backup.check_rdb(folder / rd["file"])
        loaded = redis_backup.load_count(folder / rd["file"])
    problems = [] if checked["keys"] == rd["keys"] else [
        f"redis-check-rdb reads {checked['keys']} keys, the manifest says {rd['keys']}"]
    problems += _redis_counts_problems(rd, loaded)
    results.append(_result("redis", problems, f"RDB OK; {sum(loaded.values())} keys loaded in a scratch server"
                           f" (manifest {rd['keys']}, {rd['expires']} with expiry)", elapsed(), keyspace=loaded))
    expected = body["chroma"]["collections"]
    with timed() as elapsed:
        echo(f"chroma: importing {len(expected)} collection(s) into a scratch server …")
        counts, problems = chroma.verify_in_scratch(folder / CHROMA_DIR, expected)
    for name, summary in expected.items():
        if counts.get(name) != summary["count"]:
            problems.append(f"collection {name}: {counts.get(name)} records, manifest {summary['count']}")
    results.append(_result("chroma", sorted(set(problems)),
                           f"{len(counts)} collection(s), {sum(counts.values())} records imported into a"
                           " scratch server; counts and digests match", elapsed(), collections=counts))
    return results


def restore_backup(settings: Settings, folder: Path, *, confirmed: bool, dry: bool = False,
                   provider=None, echo: Echo = _quiet) -> list[CheckResult]:
    """Replace Postgres, Redis and Chroma with the backup in ``folder``; then validate."""
    body = _load(folder)  # refuses a damaged backup before anything is touched
    collections = body["chroma"]["collections"]
    plan = (f"replace database {settings.postgres_db} ({len(body['postgres']['tables'])} tables), the Redis"
            f" dataset ({body['redis']['keys']} keys) and every Chroma collection ({len(collections)})"
            f" with backup {folder.name} of {body['created_at']}")
    if dry:
        return [CheckResult("restore", Status.SKIPPED, f"would {plan}; checksums OK")]
    if not confirmed:
        raise ConfirmationRequired(f"refusing to {plan} without confirmation",
                                   fix="answer the prompt in a terminal, or pass --yes")
    echo("redis: loading the RDB in a scratch server first …")
    problems = _redis_counts_problems(body["redis"], redis_backup.load_count(folder / body["redis"]["file"]))
    if problems:
        raise BackupError(f"{folder / body['redis']['file']}: {problems[0]}", fix="use another backup")
    if provider is None:
        from devmatrix.ops.services import get_provider

        provider = get_provider(settings, env_file=env_file_path(), echo=echo)
    results = []
    with timed() as elapsed:
        echo(f"postgres: restoring into a new database, then swapping it in for {settings.postgres_db} …")
        tables = postgres.restore_live(settings, folder / body["postgres"]["file"])
    results.append(_result("postgres", _tables_problems(body["postgres"]["tables"], tables),
                           f"{settings.postgres_db}: {sum(t['rows'] for t in tables.values())} rows in"
                           f" {len(tables)} tables, as in the backup", elapsed()))
    with timed() as elapsed:
        echo("redis: stop, put the RDB in place, start …")
        redis_backup.restore_live(settings, folder / body["redis"]["file"], provider)
        keyspace = _live_keyspace(settings)
    results.append(_result("redis", _redis_counts_problems(body["redis"], keyspace),
                           f"{sum(keyspace.values())} keys (backup {body['redis']['keys']})", elapsed()))
    with timed() as elapsed:
        echo("chroma: replacing every collection …")
        problems = chroma.restore_live(settings.chroma_url, folder / CHROMA_DIR, collections)
    results.append(_result("chroma", problems, f"{len(collections)} collection(s),"
                           f" {sum(c['count'] for c in collections.values())} records, as in the backup",
                           elapsed()))
    from devmatrix.ops.validate import run_validation

    echo("validate …")
    return results + [CheckResult(f"validate: {r.name}", r.status, r.detail, r.critical, r.seconds)
                      for r in run_validation(settings)]


def _live_keyspace(settings: Settings) -> dict[str, int]:
    client = redis_backup._client(settings)
    try:
        return {name: int(stats["keys"]) for name, stats in client.info("keyspace").items()}
    finally:
        client.close()


__all__ = ["BackupReport", "create_backup", "restore_backup", "verify_backup"]
