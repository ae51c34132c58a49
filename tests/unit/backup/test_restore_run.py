"""`invoke restore` after its preflight: all three stores hold the backup, or none does, and the
error says what was rolled back, or what could not be and how to finish by hand.

Chroma is the server double of conftest and Redis's RDB files are real files under a recording
provider; the Postgres server's steps and the questions asked of the live Redis server (where its
RDB is, how many keys it holds) are answered by the test, as a server would."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devmatrix.backup import chroma, journal, manifest, restore, restore_backup
from devmatrix.config import Settings
from devmatrix.errors import BackupError, ServiceError
from devmatrix.results import CheckResult, Status

pytestmark = pytest.mark.unit
TABLES = {"public.workflows": {"rows": 3, "md5": "aaaaaaaa01"}, "public.logs": {"rows": 4, "md5": "bbbbbbbb02"}}


def _record(i: int) -> dict:
    return {"id": f"r{i}", "document": f"doc {i}", "metadata": {"n": i}, "embedding": [float(i), 1.0]}


def _down(store: str):
    def step(*_args, **_kwargs) -> None:
        raise ServiceError(store, "server is down")
    return step


@dataclass
class Postgres:
    """The Postgres server as the restore sees it: what it was asked, what it answers."""

    restored: dict = field(default_factory=lambda: dict(TABLES))  # what pg_restore produces
    live_exists: bool = True
    calls: list[tuple] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        pg = restore.postgres
        monkeypatch.setattr(pg, "restore_into", lambda _s, dump, name: self.calls.append(
            ("restore_into", dump.name, name)) or self.restored)
        monkeypatch.setattr(pg, "flush_to_disk", lambda _s: self.calls.append(("flush",)))
        monkeypatch.setattr(pg, "database_exists", lambda _s, name: self.live_exists)
        monkeypatch.setattr(pg, "swap_in", lambda _s, incoming, old: self.calls.append(("swap_in", incoming, old)))
        monkeypatch.setattr(pg, "swap_back", lambda _s, incoming, old, *, live_existed: self.calls.append(
            ("swap_back", incoming, old, live_existed)))
        monkeypatch.setattr(pg, "drop_database", lambda _s, name: self.calls.append(("drop", name)))


class World:
    """A backup folder (a dump, an RDB of 3 keys, 1 with an expiry, two Chroma exports) and the live
    stores it replaces: a database, an RDB, a Chroma collection ``docs``."""

    def __init__(self, tmp_path: Path, chroma_server, monkeypatch: pytest.MonkeyPatch) -> None:
        self.backup = tmp_path / "devmatrix-backup-20260101T000000000Z"
        (self.backup / "redis").mkdir(parents=True)
        (self.backup / "redis" / "dump.rdb").write_bytes(b"the backup's RDB")
        (self.backup / "postgres").mkdir()
        (self.backup / "postgres" / "devmatrix.dump").write_bytes(b"PGDMP")
        chroma_server.create("docs", [_record(1)])
        chroma_server.create("examples", [_record(2), _record(3)])
        collections = chroma.export(chroma_server.url, self.backup / "chroma")["collections"]
        chroma_server.collections.clear()
        chroma_server.create("docs", [_record(9)])  # the live data
        self.live = tmp_path / "redis-data"
        self.live.mkdir()
        (self.live / "dump.rdb").write_bytes(b"the live RDB")
        self.keys = {"db0": 3}
        self.keyspace_errors: list[Exception] = []  # raised, in turn, before the keys are answered
        monkeypatch.setattr(restore.redis_backup, "rdb_path", lambda _s: self.live / "dump.rdb")
        monkeypatch.setattr(restore.redis_backup, "keyspace", self._keyspace)
        host, port = chroma_server.url.removeprefix("http://").split(":")
        self.settings = Settings(devmatrix_state_dir=tmp_path / "state", chromadb_host=host, chromadb_port=int(port))
        self.body = {"postgres": {"file": "postgres/devmatrix.dump", "tables": dict(TABLES)},
                     "redis": {"file": "redis/dump.rdb", "keys": 3, "expires": 1},
                     "chroma": {"collections": collections}}
        self.postgres = Postgres()
        self.postgres.install(monkeypatch)

    def _keyspace(self, _settings: Settings) -> dict[str, int]:
        if self.keyspace_errors:
            raise self.keyspace_errors.pop(0)
        return dict(self.keys)

    def live_rdb(self) -> bytes:
        assert sorted(p.name for p in self.live.iterdir()) == ["dump.rdb"]  # nothing set aside or staged is left
        return (self.live / "dump.rdb").read_bytes()

    def run(self, provider, echo=lambda _: None) -> list[CheckResult]:
        return restore.run(self.settings, self.backup, self.body, provider, echo)


@pytest.fixture(autouse=True)
def _no_rollback_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "ROLLBACK_WAIT_S", 0.0)


@pytest.fixture
def world(tmp_path, chroma_server, monkeypatch) -> World:
    return World(tmp_path, chroma_server, monkeypatch)


def test_a_restore_replaces_every_store_and_deletes_the_old_copies(world, chroma_server, native_provider):
    said: list[str] = []
    results = world.run(native_provider, said.append)
    db = world.settings.postgres_db
    assert [(r.name, r.status, r.detail) for r in results] == [
        ("postgres", Status.PASS, f"{db}: 7 rows in 2 tables, as in the backup"),
        ("redis", Status.PASS, "3 keys (backup 3)"),
        ("chroma", Status.PASS, "2 collection(s), 3 records, as in the backup")]
    (_, dump, incoming), flush, (_, swapped_in, old), (_, dropped) = world.postgres.calls
    assert dump == "devmatrix.dump" and flush == ("flush",) and incoming.startswith(f"{db}_restoring_")
    assert swapped_in == incoming and old.startswith(f"{db}_pre_restore_") and dropped == old
    assert world.live_rdb() == b"the backup's RDB"
    assert native_provider.calls == [("down", ("redis",)), ("up", ("redis",))]
    assert chroma_server.names() == ["docs", "examples"]
    assert chroma_server.records("docs") == [_record(1)]
    assert journal.pending(world.settings) is None
    assert said == ["postgres: restoring into a new database beside the live one …",
                    "chroma: importing every collection under a staging name …",
                    "redis: copying the RDB beside the live one …",
                    f"postgres: swapping the restored database in for {db} …",
                    "redis: stop, put the RDB in place, start …",
                    "chroma: renaming the live collections aside and the restored ones in …"]


def test_a_redis_still_loading_after_the_swap_is_waited_for(world, native_provider, monkeypatch):
    monkeypatch.setattr(restore, "ROLLBACK_WAIT_S", 10.0)
    world.keyspace_errors = [ServiceError("redis", "LOADING Redis is loading the dataset in memory")]
    results = world.run(native_provider)
    assert results[1].detail == "3 keys (backup 3)" and world.live_rdb() == b"the backup's RDB"


def test_old_copies_left_after_a_restore_are_named_and_do_not_fail_it(world, chroma_server, native_provider,
                                                                       monkeypatch):
    monkeypatch.setattr(restore.postgres, "drop_database", _down("postgres"))
    answer = chroma_server.answer
    chroma_server.answer = lambda method, path, query, body: (500, {"error": "disk I/O error"}) \
        if method == "DELETE" else answer(method, path, query, body)
    results = world.run(native_provider)
    assert [(r.name, r.status, r.critical) for r in results] == [
        ("postgres", Status.PASS, True), ("redis", Status.PASS, True), ("chroma", Status.PASS, True),
        ("cleanup", Status.FAIL, False)]
    left = results[3].detail.split("; ")
    assert left[0] == "postgres: the pre-restore copy was not deleted (postgres: server is down)"
    assert left[1].startswith("chroma: the pre-restore copy was not deleted (chroma: DELETE ")
    assert len(left) == 2 and journal.pending(world.settings) is None  # the restore itself is complete


def test_a_restored_database_that_differs_from_the_backup_changes_nothing(world, chroma_server, native_provider):
    world.postgres.restored = {**TABLES, "public.logs": {"rows": 2, "md5": "cccccccc03"}}
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    message = caught.value.message
    assert message.startswith("restore failed while staging, before any store was swapped: postgres: the restored"
                              " copy does not match the backup: table public.logs: 2 rows (md5 cccccccc), the"
                              " backup has 4 (md5 bbbbbbbb)")
    assert message.endswith("Nothing was changed; the staged copies were removed") and " — fix:" not in message
    assert caught.value.fix == "use another backup"  # the cause's own fix, once, in its place
    (_, _, incoming), (_, dropped) = world.postgres.calls
    assert dropped == incoming  # the staged database is removed, the live one never touched
    assert world.live_rdb() == b"the live RDB" and native_provider.calls == []
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]
    assert journal.pending(world.settings) is None


def test_a_staged_copy_that_cannot_be_removed_is_named_and_the_journal_kept(world, native_provider, monkeypatch):
    world.postgres.restored = {}
    monkeypatch.setattr(restore.postgres, "drop_database", _down("postgres"))
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    assert caught.value.message.endswith("Nothing was changed; but postgres: staged copy not removed (postgres:"
                                         " server is down)")
    assert world.live_rdb() == b"the live RDB"
    assert journal.pending(world.settings)["phase"] == journal.STAGING  # `--recover` removes it later


def test_a_redis_that_comes_back_without_the_backups_keys_rolls_every_store_back(
        world, chroma_server, native_provider):
    world.keys["db0"] = 1  # 3 in the RDB, 1 with an expiry: at least 2 must be there
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    message = caught.value.message
    # every store was swapped: the keys check failed, not a swap (and "redis:" is said once)
    assert message == ("restore failed after every store was swapped: redis: 1 keys loaded, the backup"
                       " has 3 (1 with expiry). Rolled back: chroma (the Chroma collections from before have their"
                       " names back); redis (Redis runs on its RDB from before the restore); postgres (database"
                       f" {world.settings.postgres_db} is the one from before the restore).")
    assert "COULD NOT" not in message and caught.value.fix == "every store is as it was before the restore"
    incoming, old = world.postgres.calls[0][2], world.postgres.calls[2][2]
    assert world.postgres.calls[3:] == [("swap_back", incoming, old, True)]
    assert world.live_rdb() == b"the live RDB"
    assert native_provider.calls == [("down", ("redis",)), ("up", ("redis",))] * 2
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]
    assert journal.pending(world.settings) is None


def test_keys_that_expired_since_the_backup_do_not_fail_the_restore(world, native_provider):
    world.keys["db0"] = 2  # one of the 3 had an expiry
    assert world.run(native_provider)[1].detail == "2 keys (backup 3)"


def test_a_database_that_did_not_exist_before_is_dropped_again_on_rollback(world, native_provider):
    world.postgres.live_exists = False
    world.keys["db0"] = 0
    with pytest.raises(BackupError):
        world.run(native_provider)
    assert world.postgres.calls[-1][0] == "swap_back" and world.postgres.calls[-1][3] is False


def test_a_postgres_that_fails_before_its_swap_leaves_every_store_as_it_was(world, chroma_server, native_provider,
                                                                           monkeypatch):
    monkeypatch.setattr(restore.postgres, "database_exists", _down("postgres"))
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    assert caught.value.message.startswith("restore failed while swapping postgres: postgres: server is down.")
    assert caught.value.fix == "every store is as it was before the restore"
    assert world.live_rdb() == b"the live RDB" and native_provider.calls == []
    assert chroma_server.names() == ["docs"] and journal.pending(world.settings) is None


def test_a_store_that_cannot_be_rolled_back_is_named_with_how_to_finish_by_hand(world, chroma_server,
                                                                               native_provider):
    world.keys["db0"] = 0
    answer = chroma_server.answer
    chroma_server.answer = lambda method, path, query, body: (500, {"error": "disk I/O error"}) \
        if method == "DELETE" else answer(method, path, query, body)
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    message = caught.value.message
    token = journal.pending(world.settings)["chroma"]["token"]  # kept: `--recover` can try again
    assert " Rolled back: redis (Redis runs on its RDB from before the restore); postgres (" in message
    assert " COULD NOT roll back: chroma: chroma: DELETE " in message
    assert message.endswith(f"— fix: collections named devmatrix-pre-restore-{token}-<name> are the old ones:"
                            " rename them back.")
    assert caught.value.fix == "follow the fix of each store not rolled back, then run the restore again"
    assert world.live_rdb() == b"the live RDB"


def test_a_rollback_waits_for_a_server_that_is_restarting(world, chroma_server, native_provider, monkeypatch):
    monkeypatch.setattr(restore, "ROLLBACK_WAIT_S", 10.0)
    world.keys["db0"] = 0
    restarting = [503]
    answer = chroma_server.answer

    def once_unavailable(method, path, query, body):
        if method == "DELETE" and restarting:
            return restarting.pop(), {"error": "restarting"}
        return answer(method, path, query, body)

    chroma_server.answer = once_unavailable
    with pytest.raises(BackupError) as caught:
        world.run(native_provider)
    assert "COULD NOT" not in caught.value.message and restarting == []
    assert caught.value.fix == "every store is as it was before the restore"
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]
    assert journal.pending(world.settings) is None


def test_a_restore_refuses_to_start_over_an_interrupted_one(world, native_provider):
    journal.Journal(world.settings, world.backup).record(phase=journal.SWAPPING, swapped=["postgres"])
    with pytest.raises(BackupError, match="invoke restore --recover"):
        world.run(native_provider)
    assert world.postgres.calls == [] and world.live_rdb() == b"the live RDB"


def test_a_confirmed_restore_of_a_whole_backup_ends_with_the_checks_it_is_given(world, native_provider,
                                                                                monkeypatch):
    monkeypatch.setattr(restore.postgres, "data_directory", lambda _s: world.live)
    monkeypatch.setattr(restore.redis_backup, "load_count", lambda _rdb: {"db0": 3})
    manifest.write_manifest(world.backup, {
        "format": manifest.FORMAT, "created_at": "2026-01-01T00:00:00+00:00", "tools": {}, "servers": {},
        **world.body, "files": manifest.describe_files(world.backup)})
    results = restore_backup(world.settings, world.backup, confirmed=True, provider=native_provider,
                             then=lambda _settings: [CheckResult("api", Status.PASS, "answers")])
    assert [r.name for r in results] == ["postgres", "redis", "chroma", "validate: api"]
    assert world.live_rdb() == b"the backup's RDB"
