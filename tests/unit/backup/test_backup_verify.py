"""`invoke backup.verify`: a backup restored into scratch places and compared with its manifest,
one result per store naming what differs; the scratch database is dropped whatever happens.

The scratch servers (a database on the Postgres server, a redis-server, a Chroma server) are
the integration tier's: here they answer what the test gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.backup import folder, manifest, verify_backup
from devmatrix.config import Settings
from devmatrix.errors import BackupError
from devmatrix.results import Status

pytestmark = pytest.mark.unit
TABLES = {"public.workflows": {"rows": 3, "md5": "aaaaaaaa01"}, "public.logs": {"rows": 4, "md5": "bbbbbbbb02"}}


class Scratch:
    """What the scratch servers find in the backup's files, and the databases created and dropped."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tables = dict(TABLES)
        self.rdb_keys = 5
        self.loaded = {"db0": 4, "db1": 1}
        self.collections: tuple[dict[str, int], list[str]] = ({"docs": 2}, [])
        self.restored: list[str] = []
        self.dropped: list[str] = []
        self.restore_error: Exception | None = None
        monkeypatch.setattr(folder.postgres, "restore_into", self._restore_into)
        monkeypatch.setattr(folder.postgres, "drop_database", lambda _s, name: self.dropped.append(name))
        monkeypatch.setattr(folder.redis_backup, "check_rdb", lambda _path: {"keys": self.rdb_keys, "expires": 1})
        monkeypatch.setattr(folder.redis_backup, "load_count", lambda _path: dict(self.loaded))
        monkeypatch.setattr(folder.chroma, "verify_in_scratch", lambda _dir, _expected: (
            dict(self.collections[0]), list(self.collections[1])))

    def _restore_into(self, _settings, dump: Path, name: str) -> dict:
        assert dump.is_file()
        self.restored.append(name)
        if self.restore_error:
            raise self.restore_error
        return dict(self.tables)


@pytest.fixture
def scratch(monkeypatch) -> Scratch:
    return Scratch(monkeypatch)


@pytest.fixture
def backup(tmp_path) -> Path:
    path = tmp_path / "devmatrix-backup-20260101T000000000Z"
    for rel in ("postgres/devmatrix.dump", "redis/dump.rdb", "chroma/docs.jsonl.gz"):
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(rel.encode())
    manifest.write_manifest(path, {
        "format": manifest.FORMAT, "created_at": "2026-01-01T00:00:00+00:00", "tools": {}, "servers": {},
        "postgres": {"file": "postgres/devmatrix.dump", "tables": dict(TABLES)},
        "redis": {"file": "redis/dump.rdb", "keys": 5, "expires": 1},
        "chroma": {"collections": {"docs": {"count": 2, "content_sha256": "x"}}},
        "files": manifest.describe_files(path)})
    return path


def test_a_good_backup_passes_every_store_and_its_scratch_database_is_dropped(backup, scratch):
    settings = Settings()
    results = verify_backup(settings, backup)
    assert [(r.name, r.status) for r in results] == [("checksums", Status.PASS), ("postgres", Status.PASS),
                                                     ("redis", Status.PASS), ("chroma", Status.PASS)]
    assert results[0].detail == "3 files match manifest.json"
    assert results[1].detail == ("2 tables, 7 rows restored into a scratch database (dropped); counts and digests"
                                 " match")
    assert results[2].detail == "RDB OK; 5 keys loaded in a scratch server (manifest 5, 1 with expiry)"
    assert results[3].detail == ("1 collection(s), 2 records imported into a scratch server; counts and digests"
                                 " match")
    (name,) = scratch.restored
    assert name.startswith(f"{settings.postgres_db}_verify_") and scratch.dropped == [name]


def test_each_store_that_differs_from_the_manifest_fails_naming_the_difference(backup, scratch):
    scratch.tables = {**TABLES, "public.logs": {"rows": 3, "md5": "cccccccc03"}}
    scratch.rdb_keys, scratch.loaded = 4, {"db0": 3}
    scratch.collections = ({"docs": 1}, ["collection docs: ids, documents or metadatas differ from the backup"])
    results = {r.name: r for r in verify_backup(Settings(), backup)}
    assert [r.status for r in results.values()] == [Status.PASS, Status.FAIL, Status.FAIL, Status.FAIL]
    assert results["postgres"].detail == "table public.logs: 3 rows (md5 cccccccc), the backup has 4 (md5 bbbbbbbb)"
    assert results["redis"].detail == ("redis-check-rdb reads 4 keys, the manifest says 5; redis: 3 keys loaded,"
                                       " the backup has 5 (1 with expiry)")
    assert results["chroma"].detail == ("collection docs: 1 records, manifest 2; collection docs: ids, documents"
                                        " or metadatas differ from the backup")


def test_a_collection_the_scratch_server_lost_is_named(backup, scratch):
    scratch.collections = ({}, [])
    (chroma_result,) = [r for r in verify_backup(Settings(), backup) if r.name == "chroma"]
    assert chroma_result.status is Status.FAIL
    assert chroma_result.detail == "collection docs: missing from the scratch server, manifest 2 records"


def test_the_scratch_database_is_dropped_when_the_restore_into_it_fails(backup, scratch):
    scratch.restore_error = BackupError("pg_restore of the dump failed", fix="x")
    with pytest.raises(BackupError, match="pg_restore of the dump failed"):
        verify_backup(Settings(), backup)
    assert scratch.dropped == scratch.restored and len(scratch.dropped) == 1


def test_a_damaged_backup_is_refused_before_any_scratch_server_starts(backup, scratch):
    (backup / "redis" / "dump.rdb").write_bytes(b"changed")
    with pytest.raises(BackupError, match=r"redis/dump\.rdb"):
        verify_backup(Settings(), backup)
    assert scratch.restored == []
