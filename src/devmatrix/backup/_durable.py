"""Files that survive a power cut: fsync the data, then the directory entry, then rename.

A rename is atomic, but without an fsync of the file first the new name can
point at empty or partial data after a crash, and without an fsync of the
directory the rename itself can be lost. Every final rename of a backup or a
restore goes through here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every directory, deepest first."""
    dirs = [folder]
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fsync_file(path)
        elif path.is_dir():
            dirs.append(path)
    for directory in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
        fsync_dir(directory)


def durable_rename(source: Path, target: Path) -> None:
    """Rename ``source`` (file or folder, already fsynced) to ``target`` and fsync the parent."""
    source.replace(target)
    fsync_dir(target.parent)


def durable_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` with its data on disk (not yet renamed into use)."""
    shutil.copyfile(source, target)
    fsync_file(target)
