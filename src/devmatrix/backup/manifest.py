"""A backup folder and its manifest: names, checksums, integrity, retention.

A backup is a folder ``devmatrix-backup-<UTC time>/`` holding one file per
component and ``manifest.json``, which lists every other file with its size and
sha256, the tool and server versions, and the counts each component had. It is
written as ``<name>.partial`` and renamed only when complete, so a folder
without that suffix is a whole backup.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.errors import BackupError, UsageError
from devmatrix.stack import registry

FORMAT = 1
MANIFEST = "manifest.json"
PREFIX = "devmatrix-backup-"
PARTIAL = ".partial"
LATEST = "latest"
LOCK = ".backup.lock"
_CHUNK = 1 << 20
# Keys every manifest of this format has; a manifest without one is not ours.
# One section per store of the registry (a test holds STORE_FILES to it).
REQUIRED_KEYS = ("format", "created_at", "files", "tools", "servers", *registry.stores())


def new_name(now: datetime | None = None) -> str:
    """``devmatrix-backup-20261125T031500123Z``: sortable, unique to the millisecond."""
    now = now or datetime.now(UTC)
    return f"{PREFIX}{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(folder: Path) -> dict[str, dict[str, object]]:
    """Every file under ``folder`` except the manifest: relative path → bytes and sha256."""
    return {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
    }


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict:
    """The manifest of ``folder``; BackupError naming the file if it is missing or not ours."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"backup folder {folder} does not exist",
                          fix="pass a folder made by `invoke backup` (or `latest`)")
    if not path.is_file():
        raise BackupError(f"{path} is missing: {folder} is not a complete DevMatrix backup",
                          fix="pass a folder made by `invoke backup`; a `.partial` folder is an"
                              " interrupted backup and cannot be restored")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is not valid JSON ({error})",
                          fix="the manifest was damaged; use another backup") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise BackupError(f"{path} lacks {', '.join(missing)}: not a DevMatrix backup manifest",
                          fix="use a folder made by `invoke backup`")
    if manifest["format"] != FORMAT:
        raise BackupError(f"{path} has format {manifest['format']!r}; this DevMatrix reads format {FORMAT}",
                          fix="restore it with the DevMatrix version that made it")
    return manifest


def integrity_problems(folder: Path, manifest: dict) -> list[str]:
    """Every file that does not match the manifest (missing, resized, changed, unlisted)."""
    listed: dict[str, dict] = manifest["files"]
    problems = []
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
            continue
        size = path.stat().st_size
        if size != expected["bytes"]:
            problems.append(f"{path}: {size} bytes, the manifest says {expected['bytes']}")
            continue
        digest = sha256_file(path)
        if digest != expected["sha256"]:
            problems.append(f"{path}: sha256 {digest[:16]}…, the manifest says {expected['sha256'][:16]}…")
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST and name not in listed:
            problems.append(f"{path}: not listed in the manifest")
    return problems


# The file(s) each store's section of the manifest names.
STORE_FILES: dict[str, Callable[[dict], list[str | None]]] = {
    "postgres": lambda section: [section.get("file")],
    "redis": lambda section: [section.get("file")],
    "chroma": lambda section: [f"chroma/{name}.jsonl.gz" for name in section.get("collections", {})],
}


def store_file_problems(folder: Path, manifest: dict) -> list[str]:
    """Each store's own file(s) must be listed in ``files``: Postgres's dump, Redis's RDB, Chroma's exports."""
    listed = manifest["files"]
    problems = []
    for store, files in STORE_FILES.items():
        for name in files(manifest[store]):
            if not name:
                problems.append(f"{folder / MANIFEST}: the {store} section names no file")
            elif name not in listed:
                problems.append(f"{folder / MANIFEST}: {store} file {name} is not in the manifest's file list")
    return problems


def check_integrity(folder: Path, manifest: dict) -> None:
    """Raise BackupError naming every file whose size or checksum does not match."""
    problems = store_file_problems(folder, manifest) + integrity_problems(folder, manifest)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise BackupError(
            f"backup {folder} does not match its manifest ({len(problems)} file(s)):\n{lines}",
            fix="this backup was changed or damaged after it was written; use another one"
                " (`invoke backup.verify DIR` checks one without restoring)",
        )


@contextlib.contextmanager
def backup_lock(root: Path) -> Iterator[None]:
    """Hold ``root/.backup.lock``: one backup at a time writes into ``root``."""
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another backup is writing into {root} (it holds {root / LOCK})",
                              fix="wait for it to finish, or pass --to another folder") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def make_private(folder: Path) -> None:
    """Backups hold every secret the stores hold: folders 0700, files 0600, whatever the umask."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


def stale_partials(root: Path) -> list[Path]:
    """Folders of backups that never finished (``<name>.partial``): safe to delete under the backup lock."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
                  and p.name.endswith(PARTIAL))


def complete_backups(root: Path) -> list[Path]:
    """Complete backups under ``root``, oldest first (their names sort by time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(PARTIAL)
                  and (p / MANIFEST).is_file())


def resolve(path: str | Path, root: Path) -> Path:
    """A backup folder from the user's argument: a path, or ``latest`` under ``root``. A path that is
    not a folder is the argument's mistake (UsageError, exit 2)."""
    if str(path) != LATEST:
        folder = Path(path)
        if not folder.exists():
            raise UsageError(f"backup folder {folder} does not exist",
                             fix=f"pass a folder made by `invoke backup` (`ls {root}`), or `latest`")
        if not folder.is_dir():
            raise UsageError(f"{folder} is a file, not a backup folder",
                             fix=f"pass a folder made by `invoke backup` (`ls {root}`), or `latest`")
        return folder
    backups = complete_backups(root)
    if not backups:
        raise BackupError(f"no complete backup under {root} (asked for {LATEST!r})",
                          fix="run `invoke backup` first, or pass the folder of a backup")
    return backups[-1]


def expired(root: Path, keep: int) -> list[Path]:
    """The complete backups retention removes: all but the newest ``keep``."""
    if keep < 1:
        raise BackupError(f"--keep {keep} would delete every backup", fix="keep at least 1")
    backups = complete_backups(root)
    return backups[:-keep] if len(backups) > keep else []


def apply_retention(root: Path, keep: int) -> list[Path]:
    removed = expired(root, keep)
    for path in removed:
        shutil.rmtree(path)
    return removed
