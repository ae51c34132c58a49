"""The backup scheduler's two files: the schedule it follows (a damaged one is no schedule) and the
heartbeat that is its readiness (absent, stale, fresh)."""

from __future__ import annotations

import re
import time

import pytest

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.stack import backup_scheduler
from devmatrix.stack.backup_scheduler import HEARTBEAT_FILE, HEARTBEAT_STALE_S, SERVICE, Schedule

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path)


def _beat(settings: Settings, age_s: int) -> None:
    (settings.devmatrix_state_dir / HEARTBEAT_FILE).write_text(f"{int(time.time()) - age_s}\n")


@pytest.mark.parametrize("content", ['{"every_s": 3600}', '{"every_s": "often", "keep": 2}', "not json", "[]"])
def test_a_damaged_schedule_file_is_no_schedule(settings, content):
    backup_scheduler.schedule_path(settings).write_text(content)
    assert backup_scheduler.read_schedule(settings) is None


def test_a_written_schedule_is_read_back(settings):
    backup_scheduler.schedule_path(settings).write_text('{"every_s": "21600", "keep": 7}')
    assert backup_scheduler.read_schedule(settings) == Schedule(21600, 7)


def test_a_scheduler_without_a_heartbeat_is_not_ready_and_says_where_to_look(settings):
    with pytest.raises(ServiceError) as caught:
        backup_scheduler.readiness(settings)
    assert caught.value.service == SERVICE
    assert f"no heartbeat in {settings.devmatrix_state_dir.resolve() / HEARTBEAT_FILE} yet" in caught.value.message
    assert caught.value.fix == f"read `invoke infra.logs {SERVICE}`"


def test_a_stale_heartbeat_is_not_ready_and_says_to_restart(settings):
    _beat(settings, int(HEARTBEAT_STALE_S) + 10)
    with pytest.raises(ServiceError) as caught:
        backup_scheduler.readiness(settings)
    assert re.search(r"heartbeat 10[01] s old", caught.value.message)
    assert caught.value.fix == f"`invoke infra.restart -s {SERVICE}`"


def test_a_fresh_heartbeat_is_ready_with_its_schedule_or_idle(settings):
    _beat(settings, int(HEARTBEAT_STALE_S) - 5)
    assert backup_scheduler.readiness(settings) == "idle (no schedule)"
    backup_scheduler.schedule_path(settings).write_text('{"every_s": 21600, "keep": 7}')
    assert backup_scheduler.readiness(settings) == "every 6h, keeping the newest 7"
