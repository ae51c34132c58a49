"""What `invoke backup --dry` promises without touching a server, and the report a backup prints
(`--json`): its size, its files, what retention removed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devmatrix.backup import BackupReport, create_backup, manifest
from devmatrix.config import Settings
from devmatrix.errors import BackupError

pytestmark = pytest.mark.unit


def _complete(root: Path, day: int) -> Path:
    folder = root / manifest.new_name(datetime(2026, 1, day, tzinfo=UTC))
    folder.mkdir(parents=True)
    manifest.write_manifest(folder, {"files": {}})
    return folder


def test_a_dry_backup_names_what_retention_would_remove_counting_the_new_one(tmp_path):
    old = [_complete(tmp_path, day) for day in (1, 2, 3)]
    report = create_backup(Settings(), to=tmp_path, keep=2, dry=True)
    assert report.dry and report.removed == old[:2]  # the new backup is one of the 2 kept
    assert report.path.parent == tmp_path and report.path.name.startswith(manifest.PREFIX)
    assert not report.path.exists() and manifest.complete_backups(tmp_path) == old


def test_a_dry_backup_keeps_settings_backup_keep_when_no_keep_is_given(tmp_path):
    old = [_complete(tmp_path, day) for day in (1, 2, 3)]
    assert create_backup(Settings(backup_keep=3), to=tmp_path, dry=True).removed == old[:1]
    assert create_backup(Settings(backup_keep=4), to=tmp_path, dry=True).removed == []


def test_a_dry_backup_into_the_default_folder_reads_backup_dir(tmp_path):
    old = _complete(tmp_path, 1)
    assert create_backup(Settings(backup_dir=tmp_path), keep=1, dry=True).removed == [old]


@pytest.mark.parametrize("keep", [0, -2])
def test_a_keep_below_1_is_refused_before_anything_is_written(tmp_path, keep):
    with pytest.raises(BackupError, match=f"--keep {keep} would delete every backup, this one included"):
        create_backup(Settings(), to=tmp_path / "backups", keep=keep)
    assert not (tmp_path / "backups").exists()


def test_the_report_counts_the_files_and_bytes_of_the_manifest(tmp_path):
    body = {"files": {"postgres/db.dump": {"bytes": 1000, "sha256": "a"},
                      "redis/dump.rdb": {"bytes": 24, "sha256": "b"}}}
    report = BackupReport(tmp_path / "b", 1.23456, body, removed=[tmp_path / "old"])
    assert report.to_dict() == {"path": str(tmp_path / "b"), "dry": False, "seconds": 1.235, "bytes": 1024,
                                "files": 2, "removed": [str(tmp_path / "old")], "manifest": body}
    assert BackupReport(tmp_path / "b", 0.0, dry=True).to_dict()["bytes"] == 0
