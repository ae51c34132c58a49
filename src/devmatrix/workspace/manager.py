"""WorkspaceManager: one git repository per workspace, and writes that cannot escape it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import git

from devmatrix.config import Settings, load_settings
from devmatrix.errors import PathOutsideWorkspace, WorkspaceError

_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# One lock per repository: parallel workflow branches commit into the same one,
# and git's index cannot take two writers.
_REPO_LOCKS: dict[Path, threading.Lock] = {}
_REPO_LOCKS_GUARD = threading.Lock()


def _repo_lock(root: Path) -> threading.Lock:
    with _REPO_LOCKS_GUARD:
        return _REPO_LOCKS.setdefault(root, threading.Lock())


@contextlib.contextmanager
def _directory_locked(root: Path) -> Iterator[None]:
    """``root`` (created if missing) flock-ed: one process at a time creates its repository
    (two workers running jobs for a new workspace would both `git init` it)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


# Written by DevMatrix into every workspace it creates (never committed: listed in
# .git/info/exclude). `invoke cleanup` removes marked workspaces only: the proof that
# a folder is DevMatrix's, not a name that happens to look like a test.
MARKER = ".devmatrix-workspace"


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder`` if it is a workspace DevMatrix created, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return marker if isinstance(marker, dict) and marker.get("workspace_id") == folder.name else None


# Code the review gate did not approve is written here, by status (rejected/, pending_review/),
# for a person to read; git-excluded in every workspace, so no commit ever takes it.
REVIEW_DIR = ".devmatrix-review"


# Beside the repository's own files: held while a file is written and committed, so
# another process (the API, the CLI, a workflow) writing the same workspace waits.
LOCK_FILE = ".git/devmatrix.lock"


def git_user(repo: git.Repo) -> tuple[str | None, str | None]:
    """The repository's own user.name and user.email (None where unset)."""
    with repo.config_reader("repository") as reader:
        if not reader.has_section("user"):
            return None, None
        return (reader.get_value("user", "name", default=None),
                reader.get_value("user", "email", default=None))


def check_workspace_id(workspace_id: str) -> str:
    """``workspace_id`` when it can name a folder directly under WORKSPACE_DIR; else WorkspaceError."""
    if not _WORKSPACE_ID.match(workspace_id) or ".." in workspace_id:
        raise WorkspaceError(
            f"workspace id {workspace_id!r} is not allowed",
            fix="use letters, digits, '_', '-' and '.', starting with a letter or digit",
        )
    return workspace_id


class WorkspaceManager:
    """The workspace ``workspace_id``: ``base_path`` if given (the seed passes the repo
    itself), else ``WORKSPACE_DIR/<workspace_id>``. Created as a git repo when missing."""

    def __init__(self, workspace_id: str, base_path: str | Path | None = None, *,
                 settings: Settings | None = None) -> None:
        check_workspace_id(workspace_id)
        settings = settings or load_settings()
        self.workspace_id = workspace_id
        self.root = (Path(base_path) if base_path is not None
                     else settings.workspace_dir / workspace_id).resolve()
        # parallel branches (threads) and workers (processes) may open the same workspace at once
        with _repo_lock(self.root):
            try:
                with _directory_locked(self.root):
                    self.repo = self._open_or_init(settings)
            except (git.GitError, OSError) as error:
                raise WorkspaceError(f"cannot prepare the git workspace {self.root}: {error}",
                                     fix="check the directory's permissions and free space") from error

    def _open_or_init(self, settings: Settings) -> git.Repo:
        self.root.mkdir(parents=True, exist_ok=True)
        self._fresh = not any(self.root.iterdir())  # only a folder DevMatrix fills itself is marked
        try:
            repo = git.Repo(self.root)
        except git.InvalidGitRepositoryError:
            repo = self._create(settings)
        if repo.working_tree_dir and Path(repo.working_tree_dir).resolve() != self.root:
            # never commit into an enclosing repository (e.g. the project itself)
            repo = self._create(settings)
        if git_user(repo) != (settings.git_user_name, settings.git_user_email):
            with repo.config_writer() as config:
                config.set_value("user", "name", settings.git_user_name)
                config.set_value("user", "email", settings.git_user_email)
        return repo

    def _create(self, settings: Settings) -> git.Repo:
        """A new repository; marked as DevMatrix's if the folder was empty (the marker is never committed)."""
        repo = git.Repo.init(self.root, initial_branch="main")
        if not self._fresh:
            return repo
        exclude = Path(repo.git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(f"/{MARKER}\n")
        marker = {"workspace_id": self.workspace_id, "environment": settings.environment,
                  "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        (self.root / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        return repo

    def close(self) -> None:
        """Stop the git helper processes GitPython keeps for this repository."""
        self.repo.close()

    def __enter__(self) -> WorkspaceManager:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def resolve(self, relative_path: str | Path) -> Path:
        """The absolute path of ``relative_path`` inside the workspace, or PathOutsideWorkspace."""
        relative = Path(relative_path)
        if relative.is_absolute():
            raise PathOutsideWorkspace(
                f"{str(relative_path)!r} is an absolute path; workspace paths are relative",
                fix=f"give a path relative to {self.root}",
            )
        target = (self.root / relative).resolve()  # follows symlinks: an escaping link is caught
        if not target.is_relative_to(self.root) or target == self.root:
            raise PathOutsideWorkspace(
                f"{str(relative_path)!r} resolves to {target}, outside the workspace {self.root}",
                fix="write only below the workspace (no '..', no symlinks leading out)",
            )
        if ".git" in target.relative_to(self.root).parts:
            raise PathOutsideWorkspace(f"{str(relative_path)!r} is inside .git",
                                       fix="choose a path outside .git")
        return target

    def _relative(self, path: str | Path) -> Path:
        """Absolute paths the manager itself returned are accepted back, if inside the root."""
        path = Path(path)
        return path.relative_to(self.root) if path.is_absolute() and path.is_relative_to(self.root) else path

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The workspace to ourselves: other threads (one lock per root) and processes (flock)."""
        with _repo_lock(self.root):
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def write_and_commit(self, relative_path: str | Path, content: str, message: str) -> tuple[Path, str]:
        """Write ``content`` and commit exactly it, under one workspace lock; (path, 40-char hash).

        Two generations writing the same file each get a commit holding their own
        content: the second waits for the first's commit, then writes and commits.
        """
        with self.locked():
            path = self.write_file(relative_path, content)
            return path, self._commit(message, [path])

    def write_and_commit_once(self, relative_path: str | Path, content: str, message: str, *,
                              key: str, value: str) -> tuple[Path, str, bool]:
        """``write_and_commit`` with the trailer ``key: value`` (e.g. ``Generation-Id: <job id>``),
        unless a commit with that trailer exists: then nothing is written, and that commit is the
        answer. (path, 40-char hash, True when this call committed); one workspace lock for all."""
        with self.locked():
            found = self.commit_with_trailer(key, value)
            if found is not None:
                return self.resolve(relative_path), found, False
            path = self.write_file(relative_path, content)
            return path, self._commit(f"{message}\n\n{key}: {value}", [path]), True

    def commit_with_trailer(self, key: str, value: str) -> str | None:
        """The newest commit whose message carries the trailer ``key: value``, or None."""
        if not self.repo.head.is_valid():
            return None
        try:
            found = self.repo.git.log("--format=%H", "-F", f"--grep={key}: {value}", "-n", "1")
        except git.GitError as error:
            raise WorkspaceError(f"git log failed in {self.root}: {error}",
                                 fix=f"inspect it with `git -C {self.root} log`") from error
        return found.strip() or None

    def write_for_review(self, status: str, relative_path: str | Path, content: str) -> Path:
        """Write unapproved code to ``.devmatrix-review/<status>/<relative_path>``, uncommitted."""
        target = self.resolve(Path(REVIEW_DIR) / status / relative_path)
        with self.locked():
            exclude = Path(self.repo.git_dir) / "info" / "exclude"
            excluded = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
            if f"/{REVIEW_DIR}/" not in excluded:
                exclude.parent.mkdir(parents=True, exist_ok=True)
                with exclude.open("a", encoding="utf-8") as handle:
                    handle.write(f"/{REVIEW_DIR}/\n")
            return self.write_file(target.relative_to(self.root), content)

    def write_file(self, relative_path: str | Path, content: str) -> Path:
        target = self.resolve(relative_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return target

    def commit(self, message: str, paths: list[str | Path] | None = None) -> str:
        """Commit ``paths`` (default: everything changed); return the 40-character hash.

        To commit a file just written, use ``write_and_commit``: between a separate
        ``write_file`` and ``commit`` another writer may change the file.
        """
        with self.locked():
            return self._commit(message, paths)

    def _commit(self, message: str, paths: list[str | Path] | None) -> str:
        """Commit under the caller's lock."""
        # Staged with the git CLI (run with cwd=the workspace), never GitPython's ``index.add``: that one
        # os.chdir()s the whole process into the repository and back, so two generations
        # committing at once on the API's threads left the server in a workspace folder, and
        # every relative path after that (the state dir, tasks.py) resolved inside it.
        try:
            if paths is None:
                self.repo.git.add(A=True)
            else:
                self.repo.git.add("--", *[str(self.resolve(self._relative(p)).relative_to(self.root))
                                          for p in paths])
            return self.repo.index.commit(message).hexsha  # a fresh index read from disk; no chdir
        except (git.GitError, OSError) as error:
            raise WorkspaceError(f"git commit failed in {self.root}: {error}",
                                 fix=f"inspect it with `git -C {self.root} status`") from error
