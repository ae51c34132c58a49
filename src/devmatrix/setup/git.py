"""Phase `git` (seed §1.5): the test workspace is a git repository with one initial commit."""

from __future__ import annotations

from pathlib import Path

import git

from devmatrix.config import Settings
from devmatrix.results import CheckResult, Status
from devmatrix.workspace.manager import git_user

INITIAL_COMMIT_MESSAGE = "chore: init test workspace"


def init_workspace(settings: Settings, *, dry: bool = False) -> CheckResult:
    """Create `workspace_test/` with git, the configured user and the initial commit."""
    repo = _open(settings.workspace_dir)
    try:
        return _init(settings, repo, dry)
    finally:
        if repo is not None:
            repo.close()  # stop GitPython's helper processes


def _init(settings: Settings, repo: git.Repo | None, dry: bool) -> CheckResult:
    path = settings.workspace_dir
    plan: list[str] = []
    if repo is None:
        plan.append(f"git init {path}")
    if repo is None or git_user(repo) != (settings.git_user_name, settings.git_user_email):
        plan.append(f"set user {settings.git_user_name} <{settings.git_user_email}>")
    if repo is None or not repo.head.is_valid():
        plan.append(f"commit {INITIAL_COMMIT_MESSAGE!r}")
    if not plan:
        return CheckResult("git workspace", Status.SKIPPED, f"{path} ready; nothing to do")
    if dry:
        return CheckResult("git workspace", Status.SKIPPED, "would " + "; ".join(plan))
    path.mkdir(parents=True, exist_ok=True)
    with repo or git.Repo.init(path, initial_branch="main") as target:
        with target.config_writer() as config:
            config.set_value("user", "name", settings.git_user_name)
            config.set_value("user", "email", settings.git_user_email)
        if not target.head.is_valid():
            (path / ".gitkeep").touch()
            target.git.add("--", ".gitkeep")  # the CLI: GitPython's index.add chdirs the whole process
            target.index.commit(INITIAL_COMMIT_MESSAGE)
    return CheckResult("git workspace", Status.PASS, "; ".join(plan))


def _open(path: Path) -> git.Repo | None:
    if not (path / ".git").exists():
        return None
    return git.Repo(path)


def check_workspace(settings: Settings) -> CheckResult:
    """Read-only: a repository, the configured user, at least one commit."""
    repo = _open(settings.workspace_dir)
    if repo is None:
        return CheckResult("git workspace", Status.FAIL,
                           f"{settings.workspace_dir} is not a git repository; run `invoke git`")
    with repo:
        return _check(settings, repo)


def _check(settings: Settings, repo: git.Repo) -> CheckResult:
    path = settings.workspace_dir
    if not repo.head.is_valid():
        return CheckResult("git workspace", Status.FAIL, f"{path} has no commit; run `invoke git`")
    name, email = git_user(repo)
    if (name, email) != (settings.git_user_name, settings.git_user_email):
        return CheckResult("git workspace", Status.FAIL,
                           f"user is {name} <{email}>, expected {settings.git_user_name}"
                           f" <{settings.git_user_email}>; run `invoke git`")
    head = repo.head.commit
    return CheckResult("git workspace", Status.PASS,
                       f"{path}: {len(list(repo.iter_commits()))} commit(s), head {head.hexsha[:7]}"
                       f" by {name}")
