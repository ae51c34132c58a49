"""The backup-scheduler service's files: the schedule it follows, and the heartbeat that is its readiness.

The stack reads them (is a schedule set, so `infra.up` starts the scheduler; is it alive);
`devmatrix.backup.schedule` writes the schedule and runs the loop that beats.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from devmatrix.config import Settings
from devmatrix.errors import ServiceError

SERVICE = "backup-scheduler"
SCHEDULE_FILE = "backup-schedule.json"
HEARTBEAT_FILE = "backup-scheduler.heartbeat"
POLL_S = 30.0  # how often the loop looks at the clock and the schedule file
HEARTBEAT_STALE_S = 3 * POLL_S
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Schedule:
    every_s: int
    keep: int

    def describe(self) -> str:
        return f"every {format_every(self.every_s)}, keeping the newest {self.keep}"


def format_every(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def schedule_path(settings: Settings) -> Path:
    return settings.devmatrix_state_dir.resolve() / SCHEDULE_FILE


def read_schedule(settings: Settings) -> Schedule | None:
    try:
        body = json.loads(schedule_path(settings).read_text(encoding="utf-8"))
        return Schedule(int(body["every_s"]), int(body["keep"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def readiness(settings: Settings) -> str:
    """The scheduler's heartbeat is fresh; its schedule, or ServiceError."""
    heartbeat = settings.devmatrix_state_dir.resolve() / HEARTBEAT_FILE
    try:
        age = time.time() - float(heartbeat.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ServiceError(SERVICE, f"no heartbeat in {heartbeat} yet",
                           fix=f"read `invoke infra.logs {SERVICE}`") from None
    if age > HEARTBEAT_STALE_S:
        raise ServiceError(SERVICE, f"heartbeat {age:.0f} s old", fix=f"`invoke infra.restart -s {SERVICE}`")
    schedule = read_schedule(settings)
    return schedule.describe() if schedule else "idle (no schedule)"
