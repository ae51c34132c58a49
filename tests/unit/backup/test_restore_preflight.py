"""The restore's preflight: every check it names, what makes each fail, and the room the staged
copies need on disk, checked before anything is touched.

Chroma is the server double of conftest; the answers of the Postgres and Redis servers (their
data directory, the live RDB's path, a scratch server's key count) and the free space are
given by the test, as a server or a disk would."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from devmatrix.backup import chroma, journal, manifest, restore, restore_backup
from devmatrix.config import Settings
from devmatrix.errors import BackupError
from devmatrix.results import Status

pytestmark = pytest.mark.unit
CHECKS = ["preflight: no interrupted restore", "preflight: postgres answers", "preflight: redis answers",
          "preflight: chroma answers", "preflight: redis runs here", "preflight: redis backup loads",
          "preflight: chroma exports read", "preflight: disk space"]


class Scene:
    """A backup folder, the live places it will be restored beside, and what the servers answer."""

    def __init__(self, tmp_path: Path, chroma_server, monkeypatch: pytest.MonkeyPatch) -> None:
        self.backup = tmp_path / "devmatrix-backup-20260101T000000000Z"
        (self.backup / "postgres").mkdir(parents=True)
        (self.backup / "postgres" / "devmatrix.dump").write_bytes(b"d" * 250_000)
        (self.backup / "redis").mkdir()
        (self.backup / "redis" / "dump.rdb").write_bytes(b"r" * 300_000)
        chroma_server.create("docs", [{"id": f"r{i}", "document": "x" * 1000, "metadata": None, "embedding": None}
                                      for i in range(50)])
        collections = chroma.export(chroma_server.url, self.backup / "chroma")["collections"]
        self.export_bytes = len(gzip.decompress((self.backup / "chroma" / "docs.jsonl.gz").read_bytes()))
        host, port = chroma_server.url.removeprefix("http://").split(":")
        self.settings = Settings(devmatrix_state_dir=tmp_path / "state", chromadb_host=host, chromadb_port=int(port))
        (tmp_path / "state" / "data" / "chroma").mkdir(parents=True)
        self.pgdata = tmp_path / "pgdata"
        self.pgdata.mkdir()
        self.live_rdb = tmp_path / "redis-data" / "dump.rdb"
        self.live_rdb.parent.mkdir()
        self.live_rdb.write_bytes(b"l" * 200_000)
        self.body = {"postgres": {"file": "postgres/devmatrix.dump", "tables": {}},
                     "redis": {"file": "redis/dump.rdb", "keys": 3, "expires": 0},
                     "chroma": {"collections": collections}}
        self.loaded = {"db0": 3}
        self.free = 1 << 40
        monkeypatch.setattr(restore.postgres, "data_directory", lambda _s: self.pgdata)
        monkeypatch.setattr(restore.redis_backup, "rdb_path", lambda _s: self.live_rdb)
        monkeypatch.setattr(restore.redis_backup, "load_count", lambda rdb: dict(self.loaded))
        monkeypatch.setattr(restore, "free_bytes", lambda _path: self.free)

    @property
    def needed(self) -> int:
        """What the staged copies take: 4x the dump, both RDBs, 3x the uncompressed exports, and the margin."""
        return (4 * 250_000 + 300_000 + 200_000 + 3 * self.export_bytes) + restore.DISK_MARGIN_BYTES

    def write_manifest(self) -> None:
        """Make the folder a whole backup, as `restore_backup` reads it."""
        manifest.write_manifest(self.backup, {
            "format": manifest.FORMAT, "created_at": "2026-01-01T00:00:00+00:00", "tools": {}, "servers": {},
            **self.body, "files": manifest.describe_files(self.backup)})

    def run(self, provider) -> dict[str, tuple[Status, str]]:
        return {r.name: (r.status, r.detail) for r in restore.preflight(self.settings, self.backup, self.body,
                                                                         provider)}


@pytest.fixture
def scene(tmp_path, chroma_server, monkeypatch) -> Scene:
    return Scene(tmp_path, chroma_server, monkeypatch)


def test_a_restorable_backup_passes_every_check_and_names_what_it_found(scene, native_provider, chroma_server):
    found = scene.run(native_provider)
    assert list(found) == CHECKS
    assert {name: status for name, (status, _) in found.items()} == dict.fromkeys(CHECKS, Status.PASS)
    assert found["preflight: postgres answers"][1] == f"data directory {scene.pgdata}"
    assert found["preflight: redis answers"][1] == f"RDB {scene.live_rdb}"
    assert found["preflight: chroma answers"][1] == f"version {chroma_server.version}"
    assert found["preflight: redis backup loads"][1] == "the RDB loads in a scratch server: 3 keys"
    assert found["preflight: chroma exports read"][1] == "1 Chroma export(s) read back to the manifest's digests"
    assert found["preflight: no interrupted restore"][1] == "no interrupted restore left a journal"
    assert found["preflight: redis runs here"][1] == ("Redis is supervised by the native provider (its RDB can be"
                                                      " swapped)")
    assert native_provider.calls == []  # nothing was touched


def test_the_disk_must_hold_every_staged_copy_with_the_margin(scene, native_provider):
    scene.free = scene.needed
    status, detail = scene.run(native_provider)["preflight: disk space"]
    assert status is Status.PASS
    chroma_mb = 3 * scene.export_bytes / 1e6
    assert detail.endswith(f"for postgres 1.0 MB + redis 0.5 MB + chroma {chroma_mb:.1f} MB")
    scene.free = scene.needed - 1
    status, detail = scene.run(native_provider)["preflight: disk space"]
    assert status is Status.FAIL and "the restore needs" in detail


def test_the_database_size_in_the_manifest_is_what_postgres_needs(scene, native_provider):
    scene.body["postgres"]["database_bytes"] = 7_000_000  # newer manifests know the database's size
    scene.free = scene.needed - 4 * 250_000 + 7_000_000
    status, detail = scene.run(native_provider)["preflight: disk space"]
    assert status is Status.PASS and "postgres 7.0 MB" in detail
    scene.free -= 1
    assert scene.run(native_provider)["preflight: disk space"][0] is Status.FAIL


def test_without_a_live_rdb_redis_needs_room_for_the_backups_only(scene, native_provider):
    scene.live_rdb.unlink()
    scene.free = scene.needed - 200_000
    status, detail = scene.run(native_provider)["preflight: disk space"]
    assert status is Status.PASS and "redis 0.3 MB" in detail


def test_a_redis_not_run_by_the_native_provider_fails_its_check(scene):
    status, detail = scene.run("compose")["preflight: redis runs here"]
    assert status is Status.FAIL and "restoring Redis under compose is not automated" in detail


def test_an_rdb_that_loads_too_few_keys_fails_its_check_naming_the_file(scene, native_provider):
    scene.loaded = {"db0": 2}
    status, detail = scene.run(native_provider)["preflight: redis backup loads"]
    assert status is Status.FAIL
    assert detail.startswith(f"{scene.backup / 'redis' / 'dump.rdb'}: redis: 2 keys loaded, the backup has 3")


def test_an_export_whose_records_differ_from_the_manifest_fails_its_check(scene, native_provider):
    path = scene.backup / "chroma" / "docs.jsonl.gz"
    header, records = chroma.read_export(path)
    records[0]["document"] = "changed"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("".join(json.dumps(line) + "\n" for line in [header, *records]))
    status, detail = scene.run(native_provider)["preflight: chroma exports read"]
    assert status is Status.FAIL and detail.startswith(f"{path}: its records differ from the manifest's digest")


def test_an_interrupted_restore_fails_the_first_check(scene, native_provider):
    journal.Journal(scene.settings, scene.backup).record(phase=journal.SWAPPING, swapped=["postgres"])
    status, detail = scene.run(native_provider)["preflight: no interrupted restore"]
    assert status is Status.FAIL and "invoke restore --recover" in detail


def test_without_the_servers_answers_the_disk_is_not_checked(scene, native_provider, monkeypatch):
    from devmatrix.errors import ServiceError

    def down(_settings):
        raise ServiceError("postgres", "does not answer")

    monkeypatch.setattr(restore.postgres, "data_directory", down)
    found = scene.run(native_provider)
    assert found["preflight: postgres answers"][0] is Status.FAIL
    assert "preflight: disk space" not in found


def test_a_dry_restore_runs_every_check_and_says_what_it_would_replace(scene, native_provider):
    scene.write_manifest()
    results = restore_backup(scene.settings, scene.backup, dry=True, provider=native_provider)
    assert [r.name for r in results] == [*CHECKS, "restore"]
    assert results[-1].status is Status.SKIPPED
    assert results[-1].detail == (f"would replace database {scene.settings.postgres_db} (0 tables), the Redis dataset"
                                  " (3 keys) and every Chroma collection (1) with backup"
                                  f" {scene.backup.name} of 2026-01-01T00:00:00+00:00")
    assert native_provider.calls == []


def test_a_restore_whose_preflight_fails_is_refused_naming_each_failed_check(scene, native_provider):
    scene.write_manifest()
    scene.loaded = {"db0": 1}
    (*_, dry) = restore_backup(scene.settings, scene.backup, dry=True, provider=native_provider)
    assert dry.status is Status.SKIPPED and dry.detail.startswith("could not replace database")
    with pytest.raises(BackupError) as caught:
        restore_backup(scene.settings, scene.backup, confirmed=True, provider=native_provider)
    assert caught.value.message.startswith("restore refused before touching anything (1 preflight check(s)"
                                           " failed):\n  - preflight: redis backup loads: ")
    assert caught.value.fix.endswith("every store is unchanged")
    assert native_provider.calls == [] and journal.pending(scene.settings) is None
