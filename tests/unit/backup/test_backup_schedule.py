"""Scheduled backups: intervals, the cron line for other providers, when the next one is due, the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.backup import manifest, schedule
from devmatrix.config import Settings
from devmatrix.errors import UsageError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("text", "seconds"), [("6h", 21600), ("90m", 5400), ("1d", 86400), ("60s", 60)])
def test_intervals_are_a_number_and_a_unit(text, seconds):
    assert schedule.parse_every(text) == seconds
    assert schedule.parse_every(schedule.format_every(seconds)) == seconds


@pytest.mark.parametrize(("text", "message"), [("6", "is not an interval"), ("5x", "is not an interval"),
                                                ("30s", "shorter than 60 s"), ("400d", "longer than a year")])
def test_a_bad_interval_names_the_value_and_the_form(text, message):
    with pytest.raises(UsageError, match=message) as caught:
        schedule.parse_every(text)
    assert "fix:" in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize(("every", "when"), [("6h", "17 */6 * * *"), ("1d", "17 3 * * *"), ("15m", "*/15 * * * *")])
def test_other_providers_get_the_exact_cron_line(every, when):
    line = schedule.cron_line(schedule.Schedule(schedule.parse_every(every), 7), Path("/srv/devmatrix local"))
    assert line == f"{when} cd '/srv/devmatrix local' && .venv/bin/invoke backup --keep 7"


def test_an_interval_cron_cannot_say_becomes_a_systemd_timer():
    assert schedule.cron_line(schedule.Schedule(7 * 3600, 7), Path("/p")).startswith(
        "systemd timer: OnUnitActiveSec=7h")


def test_a_non_native_provider_is_told_what_to_install_and_nothing_runs(tmp_path):
    class Compose:
        name = "compose"

    message = schedule.enable(Settings(devmatrix_state_dir=tmp_path), schedule.Schedule(21600, 7), Compose(),
                              project=Path("/p"))
    assert "runs no DevMatrix scheduler" in message and "17 */6 * * * cd /p" in message
    assert not (schedule.schedule_path(Settings(devmatrix_state_dir=tmp_path))).exists()


def _backup(root: Path, name: str, size: int) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "data").write_bytes(b"x" * size)
    manifest.write_manifest(folder, {"files": manifest.describe_files(folder)})


def test_the_next_backup_is_due_an_interval_after_the_newest_complete_one(tmp_path):
    settings = Settings(backup_dir=tmp_path)
    plan = schedule.Schedule(3600, 7)
    assert schedule.due_in(settings, plan, now=0) == 0  # none yet: now
    _backup(tmp_path, "devmatrix-backup-20261129T100000000Z", 10)
    _backup(tmp_path, "devmatrix-backup-20261129T120000000Z", 25)
    (tmp_path / "devmatrix-backup-20261129T130000000Z.partial").mkdir()  # unfinished: not a backup
    noon = schedule.newest_backup_time(tmp_path)
    assert schedule.due_in(settings, plan, now=noon + 600) == 3000
    assert schedule.latest_backup_metrics(settings) == (noon, 25)
    assert schedule.latest_backup_metrics(Settings(backup_dir=tmp_path / "none")) is None


@pytest.mark.parametrize(("text", "fix"), [("6", "write a number and a unit: 90m, 6h, 1d"),
                                           ("30s", "back up at most once a minute"),
                                           ("400d", "back up at least once a year, e.g. 1d or 7d")])
def test_a_bad_interval_says_what_to_write_instead(text, fix):
    with pytest.raises(UsageError) as caught:
        schedule.parse_every(text)
    assert caught.value.fix == fix


@pytest.mark.parametrize(("every", "when"), [("1h", "17 */1 * * *"), ("8h", "17 */8 * * *"), ("12h", "17 */12 * * *"),
                                             ("1m", "*/1 * * * *"), ("30m", "*/30 * * * *")])
def test_every_interval_that_divides_a_day_or_an_hour_is_a_cron_line(every, when):
    line = schedule.cron_line(schedule.Schedule(schedule.parse_every(every), 2), Path("/p"))
    assert line == f"{when} cd /p && .venv/bin/invoke backup --keep 2"


@pytest.mark.parametrize("every", ["2d", "5h", "90m", "7m"])
def test_an_interval_that_does_not_divide_a_day_or_an_hour_becomes_a_systemd_timer(every):
    line = schedule.cron_line(schedule.Schedule(schedule.parse_every(every), 2), Path("/p"))
    assert line == (f"systemd timer: OnUnitActiveSec={every} for a service running"
                    f" `cd /p && .venv/bin/invoke backup --keep 2` (cron cannot express every {every})")
