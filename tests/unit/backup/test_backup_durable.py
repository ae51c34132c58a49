"""A backup survives a power cut: before its folder is renamed complete, every file's data and then
every directory's entries are on disk, the deepest directories first. The recording of fsync is the
injected part (the disk's cache is not ours to pull the plug on)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devmatrix.backup import _durable

pytestmark = pytest.mark.unit


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths fsynced, in order (the real fsync still runs)."""
    paths: list[Path] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        paths.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(_durable.os, "fsync", fsync)
    return paths


def test_every_file_then_every_directory_deepest_first_is_fsynced(tmp_path, synced):
    folder = tmp_path / "devmatrix-backup-1.partial"
    for rel in ("manifest.json", "postgres/db.dump", "chroma/docs.jsonl.gz", "chroma/nested/more.jsonl.gz"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(rel.encode())
    _durable.fsync_tree(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert sorted(synced[:len(files)]) == files  # the data first
    directories = synced[len(files):]
    assert sorted(directories) == sorted([folder, folder / "postgres", folder / "chroma", folder / "chroma/nested"])
    assert directories[0] == folder / "chroma/nested" and directories[-1] == folder  # deepest first, the top last


def test_a_durable_rename_fsyncs_the_parent_that_holds_the_new_name(tmp_path, synced):
    (tmp_path / "backups").mkdir()
    source = tmp_path / "backups" / "b.partial"
    source.mkdir()
    _durable.durable_rename(source, tmp_path / "backups" / "b")
    assert (tmp_path / "backups" / "b").is_dir() and not source.exists()
    assert synced == [tmp_path / "backups"]


def test_a_directory_fsync_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        _durable.fsync_dir(tmp_path / "f")
