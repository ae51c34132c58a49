"""WorkspaceManager: one git repository per workspace, and writes that cannot escape it."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import git

from devmatrix.config import Settings
from devmatrix.errors import PathOutsideWorkspace, WorkspaceError

_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# One lock per repository: parallel workflow branches commit into the same one,
# and git's index cannot take two writers.
_REPO_LOCKS: dict[Path, threading.Lock] = {}
_REPO_LOCKS_GUARD = threading.Lock()


def _repo_lock(root: Path) -> threading.Lock:
    with _REPO_LOCKS_GUARD:
        return _REPO_LOCKS.setdefault(root, threading.Lock())


class WorkspaceManager:
    """The workspace ``workspace_id``: ``base_path`` if given (the seed passes the repo
    itself), else ``WORKSPACE_DIR/<workspace_id>``. Created as a git repo when missing."""

    def __init__(self, workspace_id: str, base_path: str | Path | None = None, *,
                 settings: Settings | None = None) -> None:
        if not _WORKSPACE_ID.match(workspace_id) or ".." in workspace_id:
            raise WorkspaceError(
                f"workspace id {workspace_id!r} is not allowed",
                fix="use letters, digits, '_', '-' and '.', starting with a letter or digit",
            )
        settings = settings or Settings()
        self.workspace_id = workspace_id
        self.root = (Path(base_path) if base_path is not None
                     else settings.workspace_dir / workspace_id).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.repo = git.Repo(self.root)
        except git.InvalidGitRepositoryError:
            self.repo = git.Repo.init(self.root, initial_branch="main")
        if self.repo.working_tree_dir and Path(self.repo.working_tree_dir).resolve() != self.root:
            # never commit into an enclosing repository (e.g. the project itself)
            self.repo = git.Repo.init(self.root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", settings.git_user_name)
            config.set_value("user", "email", settings.git_user_email)

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

    def write_file(self, relative_path: str | Path, content: str) -> Path:
        target = self.resolve(relative_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return target

    def commit(self, message: str, paths: list[str | Path] | None = None) -> str:
        """Commit ``paths`` (default: everything changed); return the 40-character hash."""
        with _repo_lock(self.root):
            if paths is None:
                self.repo.git.add(A=True)
            else:
                self.repo.index.add([str(self.resolve(self._relative(p)).relative_to(self.root))
                                     for p in paths])
            commit = self.repo.index.commit(message)
        return commit.hexsha
