"""Writes stay inside the workspace; commits are real and their hashes are returned."""

from __future__ import annotations

import os

import git
import pytest

from devmatrix.config import Settings
from devmatrix.errors import PathOutsideWorkspace, WorkspaceError
from devmatrix.workspace import WorkspaceManager

pytestmark = pytest.mark.unit


@pytest.fixture
def workspace(tmp_path):
    with WorkspaceManager("ws-1", settings=Settings(workspace_dir=tmp_path)) as manager:
        yield manager


def test_write_and_commit_returns_the_hash_in_git_log(workspace):
    path = workspace.write_file("pkg/fib.py", "x = 1\n")
    sha = workspace.commit("feat: fib", [path])
    assert len(sha) == 40
    with git.Repo(workspace.root) as repo:
        assert repo.head.commit.hexsha == sha
    assert path.read_text() == "x = 1\n"


@pytest.mark.parametrize("bad", ["../escape.py", "a/../../escape.py", "/etc/passwd", ".git/hooks/x"])
def test_paths_outside_the_workspace_are_refused(workspace, bad):
    with pytest.raises(PathOutsideWorkspace):
        workspace.write_file(bad, "boom")


def test_a_symlink_that_escapes_is_refused(workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, workspace.root / "link")
    with pytest.raises(PathOutsideWorkspace, match="outside the workspace"):
        workspace.write_file("link/evil.py", "boom")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("bad_id", ["../x", "", "a/b", ".hidden"])
def test_bad_workspace_ids_are_refused(tmp_path, bad_id):
    with pytest.raises(WorkspaceError, match="not allowed"):
        WorkspaceManager(bad_id, settings=Settings(workspace_dir=tmp_path)).close()


def test_an_existing_repo_passed_as_base_path_is_used(tmp_path):
    with git.Repo.init(tmp_path / "seed-ws") as repo, \
            WorkspaceManager("seed-ws", base_path=tmp_path / "seed-ws", settings=Settings()) as manager:
        manager.commit("feat: x", [manager.write_file("x.py", "x = 1\n")])
        assert [c.message for c in repo.iter_commits()] == ["feat: x"]
        assert repo.config_reader("repository").get_value("user", "email") == Settings().git_user_email
