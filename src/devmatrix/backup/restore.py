"""`invoke restore`: Postgres, Redis and Chroma all replaced by one backup, or none of them.

A restore runs in four steps, and only the third changes what clients see:

1. preflight, nothing touched: the backup matches its manifest (every store's
   files listed, every file's sha256), the RDB loads in a scratch server, every
   Chroma export reads back to the manifest's digest, every server answers, and
   each server's disk has room for the copy that will sit beside the live data;
2. stage, beside the live data: a new database restored from the dump, every
   collection imported under a staging name and compared, the RDB copied next
   to the live one and fsynced;
3. swap, each store reversibly: the live database renamed aside and the new one
   renamed in, the live RDB set aside and Redis restarted on the backup's, the
   live collections renamed aside and the staged ones renamed in;
4. commit: only when all three are swapped and Redis holds the backup's keys,
   the set-aside copies are deleted.

A failure in 1 or 2 leaves every store as it was (the staged copies are
removed). A failure in 3 swaps back every store already swapped, in reverse
order, waiting up to ``ROLLBACK_WAIT_S`` for a server the supervisor is
restarting, and the error says what was rolled back, or what could not be and
where the old copy is.

A restore that is killed cannot roll itself back, so every step that changes a
store is first written to a journal (``journal``); ``recover`` (`invoke restore
--recover`) reads it and runs the same rollback, or finishes the commit.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devmatrix import clients
from devmatrix.backup import chroma, journal, postgres
from devmatrix.backup import redis as redis_backup
from devmatrix.backup._compare import redis_counts_problems, tables_problems
from devmatrix.config import Settings
from devmatrix.errors import BackupError, DevMatrixError
from devmatrix.results import CheckResult, Status, timed
from devmatrix.retry import retry

CHROMA_DIR = "chroma"
# A server the supervisor restarts after a crash is back within seconds; undo waits this long for it.
ROLLBACK_WAIT_S = 60.0
ROLLBACK_POLL_S = 0.5
# Free space kept on every filesystem after the staged copies are written.
DISK_MARGIN_BYTES = 16 << 20
# Old manifests lack the database size: a pg_dump -Fc is compressed, its database a few times larger.
DUMP_EXPANSION = 4
# Chroma keeps records in SQLite and vectors in HNSW files: about 3x the uncompressed export.
CHROMA_EXPANSION = 3

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --- 1. preflight -------------------------------------------------------------
@dataclass
class _Need:
    store: str
    path: Path
    bytes: int


def _disk_problems(needs: list[_Need]) -> tuple[list[str], list[str]]:
    """Per filesystem, the staged copies must fit with DISK_MARGIN_BYTES to spare; problems and notes."""
    problems, notes, by_device = [], [], {}
    for need in needs:
        if not need.path.exists():
            notes.append(f"{need.store}: {need.path} is not on this machine; its free space was not checked")
            continue
        by_device.setdefault(need.path.stat().st_dev, []).append(need)
    for group in by_device.values():
        free = free_bytes(group[0].path)
        wanted = sum(n.bytes for n in group) + DISK_MARGIN_BYTES
        stores = " + ".join(f"{n.store} {n.bytes / 1e6:.1f} MB" for n in group)
        if free < wanted:
            problems.append(f"disk: {group[0].path} has {free / 1e6:.1f} MB free, the restore needs"
                            f" {wanted / 1e6:.1f} MB there ({stores} + {DISK_MARGIN_BYTES >> 20} MiB margin)")
        else:
            notes.append(f"disk: {group[0].path} {free / 1e6:.0f} MB free for {stores}")
    return problems, notes


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _export_bytes(path: Path) -> int:
    with gzip.open(path, "rb") as handle:
        return sum(len(chunk) for chunk in iter(lambda: handle.read(1 << 20), b""))


def preflight(settings: Settings, folder: Path, body: dict, provider, echo: Echo = _quiet) -> list[CheckResult]:
    """Every check a restore needs before it touches anything; nothing is changed."""
    results: list[CheckResult] = []

    def check(name: str, step: Callable[[], str]) -> object:
        with timed() as elapsed:
            try:
                detail = step()
            except DevMatrixError as error:
                results.append(CheckResult(f"preflight: {name}", Status.FAIL, str(error), seconds=elapsed()))
                return None
        results.append(CheckResult(f"preflight: {name}", Status.PASS, detail, seconds=elapsed()))
        return detail

    rdb = folder / body["redis"]["file"]

    def redis_loads() -> str:
        echo("preflight: loading the RDB in a scratch server …")
        loaded = redis_backup.load_count(rdb)
        problems = redis_counts_problems(body["redis"], loaded)
        if problems:
            raise BackupError(f"{rdb}: {problems[0]}", fix="use another backup")
        return f"the RDB loads in a scratch server: {sum(loaded.values())} keys"

    def exports_read() -> str:
        for name, summary in body["chroma"]["collections"].items():
            path = folder / CHROMA_DIR / f"{name}.jsonl.gz"
            _, records = chroma.read_export(path)
            if chroma.content_digest(records) != summary["content_sha256"]:
                raise BackupError(f"{path}: its records differ from the manifest's digest", fix="use another backup")
        return f"{len(body['chroma']['collections'])} Chroma export(s) read back to the manifest's digests"

    def not_interrupted() -> str:
        journal.refuse_if_pending(settings)
        return "no interrupted restore left a journal"

    check("no interrupted restore", not_interrupted)
    pg_dir = check("postgres answers", lambda: f"data directory {postgres.data_directory(settings)}")
    rdb_target = check("redis answers", lambda: f"RDB {redis_backup.rdb_path(settings)}")
    check("chroma answers", lambda: f"version {_chroma_version(settings)}")
    check("redis runs here", lambda: _native(provider, rdb))
    check("redis backup loads", redis_loads)
    check("chroma exports read", exports_read)
    if pg_dir and rdb_target:
        dump = folder / body["postgres"]["file"]
        live_rdb = Path(rdb_target.removeprefix("RDB "))
        needs = [
            _Need("postgres", Path(pg_dir.removeprefix("data directory ")),
                  body["postgres"].get("database_bytes") or dump.stat().st_size * DUMP_EXPANSION),
            # the backup's RDB beside the live one, and the live one Redis rewrites when it stops
            _Need("redis", live_rdb.parent,
                  rdb.stat().st_size + (live_rdb.stat().st_size if live_rdb.exists() else 0)),
            _Need("chroma", Path(settings.devmatrix_state_dir).resolve() / "data" / "chroma",
                  CHROMA_EXPANSION * sum(_export_bytes(folder / CHROMA_DIR / f"{n}.jsonl.gz")
                                         for n in body["chroma"]["collections"])),
        ]
        problems, notes = _disk_problems(needs)
        results.append(CheckResult("preflight: disk space", Status.FAIL if problems else Status.PASS,
                                   "; ".join(problems or notes)))
    return results


def _chroma_version(settings: Settings) -> str:
    with chroma.ChromaHTTP(settings.chroma_url) as http:
        return http.version()


def _native(provider, rdb: Path) -> str:
    redis_backup.require_native(provider, rdb)
    return "Redis is supervised by the native provider (its RDB can be swapped)"


# --- 2-4. stage, swap, commit ---------------------------------------------------
class _Transaction:
    """The three stores' swaps, with what to undo if a later step fails.

    Every step that changes a store is journaled first (``journal.Journal``), so
    a restore killed at any point is undone by ``recover``, which rebuilds this
    object from the journal and runs the same ``swap_back`` or ``commit``.
    """

    def __init__(self, settings: Settings, provider, echo: Echo, folder: Path | None = None,
                 body: dict | None = None, *, redis_target: Path | None = None) -> None:
        self.settings, self.folder, self.body, self.echo = settings, folder, body, echo
        self.journal = journal.Journal(settings, folder or Path())
        live = settings.postgres_db
        self.incoming = postgres.scratch_name(live, "restoring")  # named (and journaled) before it exists
        self.old = postgres.scratch_name(live, "pre_restore")  # the live database's name while set aside
        self.live_existed = True
        self.redis = redis_backup.Swap(settings, folder / body["redis"]["file"] if body else None, provider,
                                       before=self._record, target=redis_target)
        self.chroma = chroma.Swap(settings.chroma_url, folder / CHROMA_DIR if folder else None,
                                  body["chroma"]["collections"] if body else {}, before=self._record)
        self.swapped: list[str] = []

    @classmethod
    def resume(cls, settings: Settings, state: dict, provider, echo: Echo) -> _Transaction:
        """The transaction a killed restore journaled, ready to ``swap_back`` or ``commit``."""
        tx = cls(settings, provider, echo, redis_target=Path(state["redis"]["target"]))
        tx.journal.state = state
        tx.incoming, tx.old = state["postgres"]["incoming"], state["postgres"]["old"]
        tx.live_existed = state["postgres"]["live_existed"]
        tx.redis.resume(state["redis"])
        tx.chroma.resume(state["chroma"])
        tx.swapped = list(state["swapped"])
        return tx

    def _record(self, phase: str | None = None) -> None:
        self.journal.record(
            **({"phase": phase} if phase else {}), swapped=self.swapped, redis=self.redis.state(),
            chroma=self.chroma.state(),
            postgres={"incoming": self.incoming, "old": self.old, "live_existed": self.live_existed})

    def stage(self) -> dict:
        self._record(journal.STAGING)
        self.echo("postgres: restoring into a new database beside the live one …")
        tables = postgres.restore_into(self.settings, self.folder / self.body["postgres"]["file"], self.incoming)
        problems = tables_problems(self.body["postgres"]["tables"], tables)
        if problems:
            raise BackupError(f"postgres: the restored copy does not match the backup: {'; '.join(problems)}",
                              fix="use another backup")
        postgres.flush_to_disk(self.settings)  # a full disk fails here, not after the swap
        self.echo("chroma: importing every collection under a staging name …")
        self.chroma.stage()
        self.echo("redis: copying the RDB beside the live one …")
        self.redis.stage()
        return tables

    def unstage(self) -> list[str]:
        """Remove the staged copies; what could not be removed."""
        left = []
        for what, undo in (("postgres", self._drop_incoming), ("chroma", self.chroma.swap_back),
                           ("redis", self.redis.swap_back)):
            try:
                _retrying(undo)
            except Exception as error:  # noqa: BLE001 - reported, the other stores still cleaned
                left.append(f"{what}: staged copy not removed ({error})")
        if not left:
            self.journal.close()
        return left

    def _drop_incoming(self) -> None:
        postgres.drop_database(self.settings, self.incoming)

    def swap(self) -> None:
        self.live_existed = postgres.database_exists(self.settings, self.settings.postgres_db)
        self.swapped.append("postgres")
        self._record(journal.SWAPPING)
        self.echo(f"postgres: swapping the restored database in for {self.settings.postgres_db} …")
        postgres.swap_in(self.settings, self.incoming, self.old)
        self.echo("redis: stop, put the RDB in place, start …")
        self.swapped.append("redis")  # a failed start is swapped back too
        self.redis.swap_in()
        self.echo("chroma: renaming the live collections aside and the restored ones in …")
        self.swapped.append("chroma")
        self.chroma.swap_in()

    def swap_back(self) -> tuple[list[str], list[str]]:
        """Undo every swap, newest first; (rolled back, could not be rolled back).

        The journal is removed only when every store is back: otherwise
        `invoke restore --recover` can try again.
        """
        undo = {"postgres": (lambda: postgres.swap_back(self.settings, self.incoming, self.old,
                                                        live_existed=self.live_existed),
                             f"database {self.settings.postgres_db} is the one from before the restore",
                             f"the old database is {self.old!r}: ALTER DATABASE … RENAME it to"
                             f" {self.settings.postgres_db!r}"),
                "redis": (self.redis.swap_back, "Redis runs on its RDB from before the restore",
                          f"the old RDB is {self.redis.previous}: stop Redis, move it to {self.redis.target},"
                          " start Redis"),
                "chroma": (self.chroma.swap_back, "the Chroma collections from before have their names back",
                           f"collections named {chroma.SET_ASIDE.format(token=self.chroma.token, name='<name>')}"
                           " are the old ones: rename them back")}
        unstage = {"postgres": self._drop_incoming, "redis": self.redis.swap_back, "chroma": self.chroma.swap_back}
        done, failed = [], []
        for store in ("chroma", "redis", "postgres"):  # the reverse of the swap order
            if store not in self.swapped:  # not swapped yet: only its staged copy goes
                try:
                    _retrying(unstage[store])
                except Exception as error:  # noqa: BLE001 - the live data is untouched; the leftover is named
                    failed.append(f"{store}: its staged copy was not removed ({error})")
                continue
            step, ok, fix = undo[store]
            try:
                _retrying(step)
                done.append(f"{store} ({ok})")
            except Exception as error:  # noqa: BLE001 - every store is tried; each failure is reported
                failed.append(f"{store}: {error} — fix: {fix}")
        if not failed:
            self.journal.close()
        return done, failed

    def commit(self) -> list[str]:
        """Delete the set-aside copies; what could not be deleted (the restore itself is complete)."""
        self._record(journal.COMMITTING)
        left = []
        steps = (("postgres", lambda: postgres.drop_database(self.settings, self.old)),
                 ("redis", self.redis.discard), ("chroma", self.chroma.discard))
        for store, step in steps:
            try:
                step()
            except Exception as error:  # noqa: BLE001 - the data is restored; leftovers are named
                left.append(f"{store}: the pre-restore copy was not deleted ({error})")
        self.journal.close()  # every store holds the backup: nothing to roll back, leftovers are named
        return left


# What an undo step raises while a server is down or restarting (the supervisor brings it back).
_OUTAGE = (DevMatrixError, *clients.MAPPED, OSError)


def _what(error: BaseException) -> str:
    """An error's message without its fix: the restore's own message goes on after it."""
    return error.message if isinstance(error, DevMatrixError) else str(error)


def _retrying(step: Callable[[], object]) -> None:
    """Run an undo step, retrying while a server is down (the supervisor restarts it); a bug is not retried."""
    retry(step, on=_OUTAGE, timeout_s=ROLLBACK_WAIT_S, wait_s=ROLLBACK_POLL_S)


def run(settings: Settings, folder: Path, body: dict, provider, echo: Echo = _quiet) -> list[CheckResult]:
    """Stage, swap and commit (after a passing preflight); BackupError saying what was rolled back."""
    journal.refuse_if_pending(settings)
    tx = _Transaction(settings, provider, echo, folder, body)
    with timed() as elapsed:
        try:
            tables = tx.stage()
        except Exception as error:
            left = tx.unstage()
            raise BackupError(
                f"restore failed while staging, before any store was swapped: {_what(error)}. Nothing was changed"
                + (f"; but {'; '.join(left)}" if left else "; the staged copies were removed"),
                fix=getattr(error, "fix", None) or "fix the cause above and run the restore again") from error
        staged = elapsed()
    with timed() as elapsed:
        swapped_all = False
        try:
            tx.swap()
            swapped_all = True
            keyspace = _retrying_keyspace(settings)
            problems = redis_counts_problems(body["redis"], keyspace)
            if problems:
                raise BackupError(problems[0])  # "redis: …": the check of the keys the swap brought in
        except Exception as error:
            done, failed = tx.swap_back()
            when = ("after every store was swapped" if swapped_all
                    else f"while swapping {tx.swapped[-1] if tx.swapped else 'postgres'}")
            message = f"restore failed {when}: {_what(error)}."
            if done:
                message += f" Rolled back: {'; '.join(done)}."
            if failed:
                message += f" COULD NOT roll back: {'; '.join(failed)}."
            raise BackupError(message, fix="every store is as it was before the restore" if not failed
                              else "follow the fix of each store not rolled back, then run the restore again"
                              ) from error
    left = tx.commit()
    rows = sum(t["rows"] for t in tables.values())
    collections = body["chroma"]["collections"]
    results = [
        CheckResult("postgres", Status.PASS, f"{settings.postgres_db}: {rows} rows in {len(tables)} tables,"
                    " as in the backup", seconds=staged),
        CheckResult("redis", Status.PASS, f"{sum(keyspace.values())} keys (backup {body['redis']['keys']})",
                    seconds=elapsed()),
        CheckResult("chroma", Status.PASS, f"{len(collections)} collection(s),"
                    f" {sum(c['count'] for c in collections.values())} records, as in the backup"),
    ]
    if left:
        results.append(CheckResult("cleanup", Status.FAIL, "; ".join(left), critical=False))
    return results


def recover(settings: Settings, provider, echo: Echo = _quiet) -> list[CheckResult]:
    """Finish what a killed restore journaled: roll every store back, or finish deleting the old copies."""
    state = journal.pending(settings)
    if state is None:
        return [CheckResult("recover", Status.PASS, "no interrupted restore: nothing to do")]
    what = journal.describe(state)
    echo(f"recover: {what} …")
    tx = _Transaction.resume(settings, state, provider, echo)
    if state["phase"] == journal.COMMITTING:
        left = tx.commit()
        results = [CheckResult("recover", Status.PASS, f"{what}; every store already held the backup: the"
                               " old copies are deleted, the restore is complete")]
        if left:
            results.append(CheckResult("cleanup", Status.FAIL, "; ".join(left), critical=False))
        return results
    done, failed = tx.swap_back()
    if failed:
        raise BackupError(f"{what}. Rolled back: {'; '.join(done) or 'nothing'}. COULD NOT roll back:"
                          f" {'; '.join(failed)}.", fix="follow the fix of each store above, or run"
                          " `invoke restore --recover` again once the server answers (the journal is kept)")
    return [CheckResult("recover", Status.PASS, f"{what}; rolled back: {'; '.join(done) or 'nothing was swapped'};"
                        " the staged copies are removed: every store is as it was before that restore")]


def _retrying_keyspace(settings: Settings) -> dict[str, int]:
    return retry(lambda: redis_backup.keyspace(settings), on=(DevMatrixError,), timeout_s=ROLLBACK_WAIT_S,
                 wait_s=ROLLBACK_POLL_S)
