"""Which folders are backups, what `latest` and `--keep` pick among them, what a user's path
argument may be; and what `backup.schedule` writes and restarts under the native provider."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devmatrix.backup import manifest, schedule
from devmatrix.config import Settings
from devmatrix.errors import BackupError, UsageError
from devmatrix.stack.backup_scheduler import SERVICE, Schedule, read_schedule, schedule_path

pytestmark = pytest.mark.unit


def _folder(root: Path, name: str, *, with_manifest: bool = True) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "data").write_bytes(b"x")
    if with_manifest:
        manifest.write_manifest(folder, {"files": manifest.describe_files(folder)})
    return folder


def _name(day: int) -> str:
    return manifest.new_name(datetime(2026, 1, day, tzinfo=UTC))


def test_a_backup_is_a_named_folder_with_a_manifest_not_partial(tmp_path):
    good = _folder(tmp_path, _name(1))
    _folder(tmp_path, _name(2) + manifest.PARTIAL)  # renamed only when complete: its manifest does not count
    _folder(tmp_path, _name(3), with_manifest=False)  # no manifest: never finished its last step
    _folder(tmp_path, "my-notes")  # someone else's folder that happens to hold a manifest.json
    (tmp_path / _name(4)).write_text("a file, not a folder")
    assert manifest.complete_backups(tmp_path) == [good]
    assert manifest.resolve("latest", tmp_path) == good  # the partial and the unfinished are newer
    assert manifest.complete_backups(tmp_path / "absent") == []


def test_keep_1_keeps_the_newest_backup_only(tmp_path):
    older, newest = _folder(tmp_path, _name(1)), _folder(tmp_path, _name(2))
    assert manifest.expired(tmp_path, 1) == [older]
    assert manifest.apply_retention(tmp_path, 1) == [older]
    assert manifest.complete_backups(tmp_path) == [newest] and not older.exists()
    assert manifest.expired(tmp_path, 1) == [] and manifest.expired(tmp_path, 5) == []


@pytest.mark.parametrize("keep", [0, -1])
def test_a_keep_below_1_is_refused_and_deletes_nothing(tmp_path, keep):
    backup = _folder(tmp_path, _name(1))
    with pytest.raises(BackupError, match=f"--keep {keep} would delete every backup") as raised:
        manifest.apply_retention(tmp_path, keep)
    assert raised.value.fix == "keep at least 1" and backup.exists()


def test_latest_with_no_backup_says_to_make_one(tmp_path):
    _folder(tmp_path, _name(1) + manifest.PARTIAL)
    with pytest.raises(BackupError) as raised:
        manifest.resolve("latest", tmp_path)
    assert f"no complete backup under {tmp_path} (asked for 'latest')" in raised.value.message
    assert raised.value.fix == "run `invoke backup` first, or pass the folder of a backup"


def test_a_path_argument_must_be_an_existing_folder(tmp_path):
    with pytest.raises(UsageError, match="does not exist") as missing:
        manifest.resolve(tmp_path / "nope", tmp_path)
    assert f"`ls {tmp_path}`" in missing.value.fix
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a backup folder"):
        manifest.resolve(tmp_path / "a-file", tmp_path)
    folder = _folder(tmp_path, "anything")  # any folder the user names: checked later, by its manifest
    assert manifest.resolve(str(folder), tmp_path) == folder


# --- backup.schedule ---------------------------------------------------------------------------
class Provider:
    """Records what the schedule asks of the provider (the supervisor itself is integration's)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def up(self, names: tuple[str, ...]) -> None:
        self.calls.append(("up", names))

    def down(self, names: tuple[str, ...]) -> None:
        self.calls.append(("down", names))


def test_enable_writes_the_schedule_the_scheduler_reads_privately_and_restarts_it(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path / "state")  # the folder does not exist yet
    native = Provider("native")
    message = schedule.enable(settings, Schedule(6 * 3600, 3), native, project=Path("/p"))
    assert read_schedule(settings) == Schedule(6 * 3600, 3)
    assert stat.S_IMODE(schedule_path(settings).stat().st_mode) == 0o600
    assert native.calls == [("down", (SERVICE,)), ("up", (SERVICE,))]
    assert "backup.schedule --off" in message
    schedule.enable(settings, Schedule(3600, 1), native, project=Path("/p"))  # a second enable replaces it
    assert read_schedule(settings) == Schedule(3600, 1)


def test_enable_dry_changes_nothing(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path)
    native = Provider("native")
    assert schedule.enable(settings, Schedule(3600, 2), native, project=Path("/p"), dry=True).startswith("would run")
    assert native.calls == [] and not schedule_path(settings).exists()


def test_a_provider_without_a_name_is_not_native(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path)
    message = schedule.enable(settings, Schedule(3600, 2), object(), project=Path("/p"))
    assert "runs no DevMatrix scheduler" in message and not schedule_path(settings).exists()


def test_disable_stops_the_scheduler_and_removes_its_files_keeping_the_backups(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path)
    native = Provider("native")
    schedule.enable(settings, Schedule(3600, 2), native, project=Path("/p"))
    native.calls.clear()
    assert "existing backups are kept" in schedule.disable(settings, native)
    assert native.calls == [("down", (SERVICE,))] and read_schedule(settings) is None
