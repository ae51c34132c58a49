"""One backup folder: create it, verify it in scratch places, restore the live stores from it."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.backup import chroma, manifest, postgres, restore
from devmatrix.backup import redis as redis_backup
from devmatrix.backup._compare import redis_counts_problems, result, tables_problems
from devmatrix.backup._durable import durable_rename, fsync_tree
from devmatrix.config import Settings, env_file_path
from devmatrix.errors import BackupError, ConfirmationRequired
from devmatrix.results import CheckResult, Status, timed
from devmatrix.stack.providers import get_provider

PG_DUMP = "postgres/{db}.dump"
RDB = "redis/dump.rdb"
CHROMA_DIR = "chroma"

Echo = Callable[[str], None]
Checks = Callable[[Settings], list[CheckResult]]


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
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with manifest.backup_lock(root):
        for stale in manifest.stale_partials(root):  # no other backup runs: we hold the lock
            echo(f"removing {stale.name}, left by an interrupted backup")
            shutil.rmtree(stale)
        partial = root / (name + manifest.PARTIAL)
        (partial / "postgres").mkdir(parents=True, mode=0o700)
        (partial / "redis").mkdir(mode=0o700)
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
                manifest.make_private(partial)
                fsync_tree(partial)  # data and entries on disk before the name says "complete"
                final = root / name
                durable_rename(partial, final)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            removed = manifest.apply_retention(root, keep)
    return BackupReport(final, elapsed(), body, removed)


def _load(folder: Path) -> dict:
    body = manifest.read_manifest(folder)
    manifest.check_integrity(folder, body)  # every store's files listed, every listed file intact
    return body


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
    results.append(result("postgres", tables_problems(pg["tables"], tables),
                           f"{len(tables)} tables, {rows} rows restored into a scratch database (dropped);"
                           " counts and digests match", elapsed(), tables=tables))
    rd = body["redis"]
    with timed() as elapsed:
        echo("redis: redis-check-rdb, then a scratch redis-server …")
        checked = redis_backup.check_rdb(folder / rd["file"])
        loaded = redis_backup.load_count(folder / rd["file"])
    problems = [] if checked["keys"] == rd["keys"] else [
        f"redis-check-rdb reads {checked['keys']} keys, the manifest says {rd['keys']}"]
    problems += redis_counts_problems(rd, loaded)
    results.append(result("redis", problems, f"RDB OK; {sum(loaded.values())} keys loaded in a scratch server"
                           f" (manifest {rd['keys']}, {rd['expires']} with expiry)", elapsed(), keyspace=loaded))
    expected = body["chroma"]["collections"]
    with timed() as elapsed:
        echo(f"chroma: importing {len(expected)} collection(s) into a scratch server …")
        counts, problems = chroma.verify_in_scratch(folder / CHROMA_DIR, expected)
    for name, summary in expected.items():
        if name not in counts:
            problems.append(f"collection {name}: missing from the scratch server, manifest {summary['count']} records")
        elif counts[name] != summary["count"]:
            problems.append(f"collection {name}: {counts[name]} records, manifest {summary['count']}")
    results.append(result("chroma", sorted(set(problems)),
                           f"{len(counts)} collection(s), {sum(counts.values())} records imported into a"
                           " scratch server; counts and digests match", elapsed(), collections=counts))
    return results


def restore_backup(settings: Settings, folder: Path, *, confirmed: bool = False,
                   confirm: Callable[[str], bool] | None = None, dry: bool = False,
                   provider=None, echo: Echo = _quiet,
                   then: Checks | None = None) -> list[CheckResult]:
    """Replace Postgres, Redis and Chroma with the backup in ``folder``, all or none; then ``then``.

    ``then`` is the checks to run on the restored stack: `invoke restore` passes `run_validation`
    (the checks sit above data safety, so they are handed in, not imported).

    Unless ``confirmed``, ``confirm(plan)`` is asked, only after the checksums passed: nobody
    is asked to confirm a restore from a damaged backup. See ``devmatrix.backup.restore``
    for the preflight, stage, swap and rollback.
    """
    body = _load(folder)  # refuses a damaged backup before anything is touched
    collections = body["chroma"]["collections"]
    plan = (f"replace database {settings.postgres_db} ({len(body['postgres']['tables'])} tables), the Redis"
            f" dataset ({body['redis']['keys']} keys) and every Chroma collection ({len(collections)})"
            f" with backup {folder.name} of {body['created_at']}")
    if not dry and not confirmed and confirm is not None:
        confirmed = confirm(plan)
    if not dry and not confirmed:
        raise ConfirmationRequired(f"refusing to {plan} without confirmation",
                                   fix="answer the prompt in a terminal, or pass --yes")
    if provider is None:
        provider = get_provider(settings, env_file=env_file_path(), echo=echo)
    checks = restore.preflight(settings, folder, body, provider, echo)
    failed = [c for c in checks if c.failed]
    if dry:
        return [*checks, CheckResult("restore", Status.SKIPPED,
                                     f"would {plan}" if not failed else f"could not {plan}: see the failed checks")]
    if failed:
        lines = "\n".join(f"  - {c.name}: {c.detail}" for c in failed)
        raise BackupError(f"restore refused before touching anything ({len(failed)} preflight check(s) failed):\n"
                          f"{lines}", fix="fix each failed check above, then run the restore again; every store"
                                          " is unchanged")
    return _then(settings, restore.run(settings, folder, body, provider, echo), then, echo)


def recover_restore(settings: Settings, *, provider=None, echo: Echo = _quiet,
                    then: Checks | None = None) -> list[CheckResult]:
    """Undo (or finish) a restore that was killed half-way, from its journal; then ``then``."""
    if provider is None:
        provider = get_provider(settings, env_file=env_file_path(), echo=echo)
    return _then(settings, restore.recover(settings, provider, echo), then, echo)


def _then(settings: Settings, results: list[CheckResult], then: Checks | None, echo: Echo) -> list[CheckResult]:
    """The restore's steps, followed by ``then``'s checks (named `validate: …`) when a caller passes them."""
    if then is None:
        return results
    echo("validate …")
    return results + [CheckResult(f"validate: {r.name}", r.status, r.detail, r.critical, r.seconds)
                      for r in then(settings)]
