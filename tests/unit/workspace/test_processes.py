"""Worker processes open and commit into one new workspace at once: each commit lands, none fails."""

from __future__ import annotations

import multiprocessing

import pytest

from devmatrix.config import Settings
from devmatrix.workspace.manager import WorkspaceManager

pytestmark = pytest.mark.unit
PROCESSES = 4


def _generate(base, index: int, start) -> str:
    start.wait()  # every process opens the (missing) workspace at the same moment
    settings = Settings(git_user_name="Test", git_user_email="test@devmatrix.local")
    with WorkspaceManager("shared", base_path=base, settings=settings) as workspace:
        return workspace.write_and_commit(f"f{index}.py", f"x = {index}\n", f"feat: f{index}")[1]


def test_processes_that_create_one_workspace_at_once_each_commit(tmp_path):
    context = multiprocessing.get_context("fork")  # as Celery's prefork pool
    start = context.Manager().Barrier(PROCESSES)
    with context.Pool(PROCESSES) as pool:
        commits = pool.starmap(_generate, [(tmp_path / "shared", n, start) for n in range(PROCESSES)])
    with WorkspaceManager("shared", base_path=tmp_path / "shared",
                          settings=Settings(git_user_name="Test", git_user_email="test@devmatrix.local")) as ws:
        history = [c.hexsha for c in ws.repo.iter_commits()]
    assert sorted(commits) == sorted(history)
