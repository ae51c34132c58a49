"""`invoke backup.schedule --every 6h --keep 7` (and `--off`): backups on a timer.

Under the native provider the timer is one more supervised program,
``backup-scheduler`` (`python -m devmatrix.backup.schedule`): it reads the
schedule (`devmatrix.stack.backup_scheduler`) from ``<state dir>/backup-schedule.json``, runs `create_backup` when the
newest complete backup is older than the interval, and writes a heartbeat that
is its readiness check. Other providers do not run it: the task prints the
exact cron line (or systemd timer) to install instead.

Metrics: the API exports ``devmatrix_backup_last_success_timestamp_seconds`` and
``devmatrix_backup_last_size_bytes`` from the newest complete backup in
BACKUP_DIR (`latest_backup_metrics`), whoever made it; the alert ``BackupTooOld``
watches the first.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.backup import manifest
from devmatrix.backup.folder import create_backup
from devmatrix.boundary import run_main
from devmatrix.config import Settings, load_settings
from devmatrix.errors import UsageError
from devmatrix.stack.backup_scheduler import (
    HEARTBEAT_FILE,
    POLL_S,
    SERVICE,
    UNITS,
    Schedule,
    format_every,
    read_schedule,
    schedule_path,
)

RETRY_AFTER_FAILURE_S = 300.0  # a failed backup is tried again after this, not after a whole interval
_EVERY = re.compile(r"^(\d+)([smhd])$")
MIN_EVERY_S = 60
MAX_EVERY_S = 366 * 86400  # a backup at least once a year: a longer interval is a typo

log = logging.getLogger("devmatrix.backup.schedule")


def parse_every(text: str) -> int:
    """``6h`` → 21600; BackupError naming the value and the accepted form otherwise."""
    match = _EVERY.match(text.strip())
    if not match:
        raise UsageError(f"--every {text!r} is not an interval", fix="write a number and a unit: 90m, 6h, 1d")
    seconds = int(match[1]) * UNITS[match[2]]
    if seconds < MIN_EVERY_S:
        raise UsageError(f"--every {text} is shorter than {MIN_EVERY_S} s", fix="back up at most once a minute")
    if seconds > MAX_EVERY_S:
        raise UsageError(f"--every {text} is longer than a year", fix="back up at least once a year, e.g. 1d or 7d")
    return seconds


def cron_line(schedule: Schedule, project: Path) -> str:
    """The crontab line (or, for intervals cron cannot say, the systemd timer setting) to install."""
    command = f"cd {shlex.quote(str(project))} && .venv/bin/invoke backup --keep {schedule.keep}"
    every = schedule.every_s
    if every % 86400 == 0 and every // 86400 == 1:
        when = "17 3 * * *"
    elif every % 3600 == 0 and 24 % (every // 3600) == 0:
        when = f"17 */{every // 3600} * * *"
    elif every % 60 == 0 and 60 % (every // 60) == 0:
        when = f"*/{every // 60} * * * *"
    else:
        return (f"systemd timer: OnUnitActiveSec={format_every(every)} for a service running"
                f" `{command}` (cron cannot express every {format_every(every)})")
    return f"{when} {command}"


# --- what the task does ------------------------------------------------------------------
def enable(settings: Settings, schedule: Schedule, provider, *, project: Path, dry: bool = False) -> str:
    """Run backups on ``schedule`` under the native supervisor, or say what to install elsewhere."""
    if getattr(provider, "name", "") != "native":
        return (f"provider {getattr(provider, 'name', provider)!r} runs no DevMatrix scheduler; install this"
                f" instead:\n  {cron_line(schedule, project)}")
    if dry:
        return f"would run backups {schedule.describe()} under supervisord ({SERVICE})"
    path = schedule_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"every_s": schedule.every_s, "keep": schedule.keep}) + "\n", encoding="utf-8")
    path.chmod(0o600)
    provider.down((SERVICE,))  # a running scheduler picks the new file up anyway; a restart says so now
    provider.up((SERVICE,))
    return f"backups {schedule.describe()} under supervisord ({SERVICE}); `invoke backup.schedule --off` stops them"


def disable(settings: Settings, provider, *, dry: bool = False) -> str:
    if getattr(provider, "name", "") != "native":
        return "no DevMatrix scheduler under this provider: remove the cron line or timer you installed"
    if dry:
        return f"would stop {SERVICE} and remove {schedule_path(settings)}"
    provider.down((SERVICE,))
    schedule_path(settings).unlink(missing_ok=True)
    (settings.devmatrix_state_dir.resolve() / HEARTBEAT_FILE).unlink(missing_ok=True)
    return "scheduled backups are off (existing backups are kept)"


# --- the supervised loop ------------------------------------------------------------------
def newest_backup_time(root: Path) -> float | None:
    backups = manifest.complete_backups(root)
    if not backups:
        return None
    stamp = backups[-1].name.removeprefix(manifest.PREFIX)  # 20261125T031500123Z
    return datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()


def due_in(settings: Settings, schedule: Schedule, now: float) -> float:
    """Seconds until the next backup is due (<= 0: now)."""
    last = newest_backup_time(Path(settings.backup_dir))
    return 0.0 if last is None else last + schedule.every_s - now


def run_forever(settings: Settings) -> None:  # pragma: no cover - exercised by the integration test
    heartbeat = settings.devmatrix_state_dir.resolve() / HEARTBEAT_FILE
    retry_at = 0.0
    while True:  # a daemon's loop (supervised), no deadline by design: not retry.poll
        heartbeat.write_text(f"{time.time():.0f}\n", encoding="utf-8")
        schedule = read_schedule(settings)
        now = time.time()
        if schedule is not None and due_in(settings, schedule, now) <= 0 and now >= retry_at:
            try:
                report = create_backup(settings, keep=schedule.keep)
                log.warning("scheduled backup written: %s (%.1f s)", report.path, report.seconds)
            except Exception as error:  # noqa: BLE001 - logged; the next attempt comes after a pause
                log.error("scheduled backup failed: %s; next attempt in %g s", error, RETRY_AFTER_FAILURE_S)
                retry_at = now + RETRY_AFTER_FAILURE_S
        time.sleep(POLL_S)


def latest_backup_metrics(settings: Settings) -> tuple[float, int] | None:
    """(UTC time of the newest complete backup, its bytes) for the API's metrics; None if none."""
    root = Path(settings.backup_dir)
    backups = manifest.complete_backups(root)
    if not backups:
        return None
    try:
        body = json.loads((backups[-1] / manifest.MANIFEST).read_text(encoding="utf-8"))
        size = sum(int(f["bytes"]) for f in body["files"].values())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return newest_backup_time(root) or 0.0, size


def main() -> int:  # pragma: no cover - the supervised entry point
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    return run_main(lambda: run_forever(load_settings()) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
