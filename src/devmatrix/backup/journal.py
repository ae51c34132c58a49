"""The restore's write-ahead journal: a restore killed half-way is finished or undone by the next command.

A restore that fails with an exception rolls itself back. One that is killed
(SIGKILL, a power cut, the OOM killer) cannot: Postgres may already hold the
backup while Redis and Chroma still hold the live data. So before each step
that changes a store, the restore writes here, durably, what it is about to do
(the names it will set the old copies aside under, what is already swapped).
`invoke restore --recover` reads it and puts every store back as it was, or,
when the restore had already swapped all three and was only deleting the old
copies, finishes that. While the file exists, `invoke restore` refuses to start
and `invoke validate` fails, both naming `--recover`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.backup._durable import durable_rename, fsync_dir
from devmatrix.config import Settings
from devmatrix.errors import BackupError

JOURNAL_NAME = "restore-journal.json"
STAGING, SWAPPING, COMMITTING = "staging", "swapping", "committing"


def journal_path(settings: Settings) -> Path:
    return Path(settings.devmatrix_state_dir) / JOURNAL_NAME


class Journal:
    """One restore's record; every ``record`` is on disk before it returns."""

    def __init__(self, settings: Settings, backup: Path) -> None:
        self.path = journal_path(settings)
        self.state: dict = {"backup": str(backup), "pid": os.getpid(), "phase": STAGING,
                            "started_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def record(self, **changes: object) -> None:
        self.state.update(changes)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = self.path.with_name(self.path.name + ".new")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.state, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        durable_rename(scratch, self.path)

    def close(self) -> None:
        """The restore is complete or undone: nothing is left to recover."""
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)


def pending(settings: Settings) -> dict | None:
    """The journal a killed restore left, or None."""
    path = journal_path(settings)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path}: the journal of an interrupted restore cannot be read ({error})",
                          fix="the old copies keep their names: a database <db>_pre_restore_<hex>,"
                              " dump.rdb.pre-restore, collections devmatrix-pre-restore-<hex>-<name>; rename"
                              " them back (RUNBOOK.md, 'restore failed while swapping'), then delete"
                              f" {path}") from error


def describe(state: dict) -> str:
    step = {STAGING: "while staging (no store swapped yet)",
            SWAPPING: f"while swapping (swapped: {', '.join(state.get('swapped') or []) or 'none yet'})",
            COMMITTING: "after swapping every store, while deleting the old copies"}.get(state.get("phase"), "")
    return f"a restore from {state.get('backup')} (pid {state.get('pid')}, {state.get('started_at')}) stopped {step}"


def refuse_if_pending(settings: Settings) -> None:
    """A new restore must not start over a half-done one: it would set aside the mixed state as 'old'."""
    state = pending(settings)
    if state is not None:
        raise BackupError(f"{describe(state)}; the stores may hold a mix of the backup and the live data",
                          fix="run `invoke restore --recover` first (it puts every store back as it was)")
