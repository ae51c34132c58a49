"""Run a restore that SIGKILLs itself at a chosen step (what a power cut or the OOM killer does).

Usage: python _killed_restore.py POINT BACKUP_DIR, with DEVMATRIX_ENV_FILE naming the
scratch stack. Only *when* the process dies is arranged here; the restore is the real one.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from devmatrix import backup
from devmatrix.backup import chroma, postgres
from devmatrix.backup import redis as redis_backup
from devmatrix.config import env_file_path, load_settings
from devmatrix.stack import get_provider


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(owner, name: str, calls: int = 1) -> None:
    """Kill this process right after the ``calls``-th call of ``owner.name`` returns."""
    real, seen = getattr(owner, name), []

    def wrapper(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(1)
        if len(seen) == calls:
            die()
        return out

    setattr(owner, name, wrapper)


POINTS = {
    # the live database renamed aside, the restored one not yet renamed in
    "postgres-swap": lambda: after(postgres, "_rename_when_free"),
    # Redis stopped and its RDB set aside, the backup's not yet in place
    "redis-swap": lambda: after(redis_backup, "durable_rename"),
    # one live collection renamed aside, the others not
    "chroma-swap": lambda: after(chroma.ChromaHTTP, "rename"),
    # every store swapped; the old database deleted, the old RDB and collections not yet
    "commit": lambda: after(postgres, "drop_database"),
}


def main(point: str, folder: str) -> None:
    settings = load_settings(env_file_path())
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _: None)
    POINTS[point]()
    backup.restore_backup(settings, Path(folder), confirmed=True, provider=provider)
    sys.exit("the restore finished: the kill point was never reached")


if __name__ == "__main__":
    main(*sys.argv[1:])
