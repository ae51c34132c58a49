"""Writes stay inside the workspace; commits are real and their hashes are returned."""

from __future__ import annotations

import os
import threading

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


def test_two_generations_writing_one_file_each_commit_their_own_content(tmp_path):
    """Two threads, two managers of one workspace (as two requests have), the same file, 25 rounds each."""
    settings = Settings(workspace_dir=tmp_path)
    commits: dict[str, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def generate(name: str) -> None:
        try:
            with WorkspaceManager("shared", settings=settings) as manager:
                start.wait()
                for i in range(25):
                    content = f"# written by {name}, round {i}\n" + f"value = {i}\n" * 50
                    _, sha = manager.write_and_commit("app.py", content, f"feat: {name} {i}")
                    commits[sha] = content
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=generate, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(commits) == 50
    with git.Repo(tmp_path / "shared") as repo:
        for sha, content in commits.items():
            assert repo.git.show(f"{sha}:app.py") + "\n" == content, f"commit {sha[:8]} holds another's content"
        assert len(list(repo.iter_commits())) == 50


def test_commits_on_many_threads_leave_the_process_where_it_was(tmp_path):
    """The API commits generations on its threads: a commit must not move the process's working
    directory (GitPython's index.add chdirs into the repository and back, which two threads at
    once leave in a workspace: every relative path resolved there afterwards)."""
    here = os.getcwd()
    settings = Settings(workspace_dir=tmp_path)
    start = threading.Barrier(4)

    def commit_rounds(index: int) -> None:
        with WorkspaceManager(f"ws-{index}", settings=settings) as manager:
            start.wait()
            for round_ in range(15):
                manager.write_and_commit(f"m{round_}.py", f"x = {round_}\n", f"feat: {round_}")

    threads = [threading.Thread(target=commit_rounds, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert os.getcwd() == here


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
