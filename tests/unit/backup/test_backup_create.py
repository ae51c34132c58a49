"""`invoke backup`: one new private folder holding every store's file and a manifest that describes
them; left-overs of interrupted backups removed; retention applied; nothing left when it fails.

Chroma is the server double of conftest; what pg_dump and Redis's BGSAVE write, and the version of
the redis-check-rdb binary, are given by the test (the servers are the integration tier's)."""

from __future__ import annotations

import platform
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devmatrix.backup import create_backup, folder, manifest
from devmatrix.config import Settings
from devmatrix.errors import BackupError, ServiceError

pytestmark = pytest.mark.unit
TABLES = {"public.workflows": {"rows": 3, "md5": "aaaaaaaa01"}}


class Servers:
    """What the Postgres and Redis servers write and answer during a backup."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.redis_error: Exception | None = None
        monkeypatch.setattr(folder.postgres, "dump", self._dump)
        monkeypatch.setattr(folder.redis_backup, "snapshot", self._snapshot)
        monkeypatch.setattr(folder.redis_backup, "tool_version", lambda: "7.0.15")

    def _dump(self, settings: Settings, dest: Path) -> dict:
        dest.write_bytes(b"PGDMP the dump")
        return {"database": settings.postgres_db, "database_bytes": 8_000_000, "tables": dict(TABLES),
                "server": {"postgres": "18.1", "pgvector": "0.8.0"}}

    def _snapshot(self, _settings: Settings, dest: Path) -> dict:
        if self.redis_error:
            raise self.redis_error
        dest.write_bytes(b"REDIS0011 the rdb")
        return {"server": "7.0.15", "rdb_source": "/var/lib/redis/dump.rdb", "keys": 3, "expires": 1,
                "already_expired": 0}


@pytest.fixture
def servers(monkeypatch) -> Servers:
    return Servers(monkeypatch)


@pytest.fixture
def settings(tmp_path, chroma_server) -> Settings:
    host, port = chroma_server.url.removeprefix("http://").split(":")
    return Settings(backup_dir=tmp_path / "backups", chromadb_host=host, chromadb_port=int(port))


def _old(root: Path, day: int, *, partial: bool = False) -> Path:
    path = root / (manifest.new_name(datetime(2026, 1, day, tzinfo=UTC)) + (manifest.PARTIAL if partial else ""))
    path.mkdir(parents=True)
    manifest.write_manifest(path, {"files": {}})
    return path


def test_a_backup_is_a_private_folder_whose_manifest_describes_every_store(settings, servers, chroma_server):
    chroma_server.create("docs", [{"id": "a", "document": "x", "metadata": None, "embedding": [1.0, 0.0]}])
    report = create_backup(settings)
    body = manifest.read_manifest(report.path)
    manifest.check_integrity(report.path, body)  # every file listed, with its size and sha256
    db = settings.postgres_db
    assert report.path.parent == settings.backup_dir and body["name"] == report.path.name
    assert set(body["files"]) == {f"postgres/{db}.dump", "redis/dump.rdb", "chroma/docs.jsonl.gz"}
    assert body["postgres"] == {"database": db, "database_bytes": 8_000_000, "tables": TABLES,
                                "file": f"postgres/{db}.dump"}
    assert body["redis"] == {"rdb_source": "/var/lib/redis/dump.rdb", "keys": 3, "expires": 1, "already_expired": 0,
                             "file": "redis/dump.rdb"}
    assert body["chroma"]["collections"]["docs"]["count"] == 1
    assert body["servers"] == {"postgres": "18.1", "pgvector": "0.8.0", "redis": "7.0.15",
                               "chroma": chroma_server.version}
    tools = body["tools"]
    assert set(tools) == {"devmatrix", "python", "pg_dump", "pg_restore", "redis-check-rdb", "chromadb"}
    assert tools["python"] == platform.python_version() and tools["redis-check-rdb"] == "7.0.15"
    assert re.fullmatch(r"\d+\.\d+.*", tools["pg_dump"]) and tools["pg_restore"] == tools["pg_dump"]
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    modes = {p.relative_to(report.path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in report.path.rglob("*")}
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o700
    assert modes == {"postgres": 0o700, "redis": 0o700, "chroma": 0o700, f"postgres/{db}.dump": 0o600,
                     "redis/dump.rdb": 0o600, "chroma/docs.jsonl.gz": 0o600, "manifest.json": 0o600}
    assert report.to_dict()["bytes"] == sum(f["bytes"] for f in body["files"].values()) > 0


def test_a_backup_removes_interrupted_ones_and_keeps_the_newest(settings, servers):
    root = settings.backup_dir
    oldest, older = _old(root, 1), _old(root, 2)
    stale = _old(root, 3, partial=True)
    said: list[str] = []
    report = create_backup(settings, keep=2, echo=said.append)
    assert report.removed == [oldest]
    assert manifest.complete_backups(root) == [older, report.path] and not stale.exists()
    assert said[0] == f"removing {stale.name}, left by an interrupted backup"
    assert said[1:] == [f"postgres: pg_dump {settings.postgres_db} …", "redis: BGSAVE …",
                        "chroma: exporting collections …"]


def test_a_backup_that_fails_leaves_no_folder_and_removes_no_old_backup(settings, servers):
    root = settings.backup_dir
    kept = _old(root, 1)
    servers.redis_error = ServiceError("redis", "BGSAVE failed")
    with pytest.raises(ServiceError, match="BGSAVE failed"):
        create_backup(settings, keep=1)
    assert sorted(p.name for p in root.iterdir()) == sorted([kept.name, manifest.LOCK])  # no .partial left


def test_a_second_backup_into_the_same_folder_is_refused_while_one_runs(settings, servers):
    root = settings.backup_dir
    root.mkdir(parents=True)
    with manifest.backup_lock(root), pytest.raises(BackupError, match="another backup is writing into"):
        create_backup(settings)
    assert manifest.complete_backups(root) == []
