"""Cleanup's rules that need no server: workspaces scoped by their marker, ownership, scope names."""

from __future__ import annotations

import shutil

import pytest

from devmatrix.backup.cleanup import cleanup, not_ours
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError
from devmatrix.results import Status
from devmatrix.workspace import WorkspaceManager
from devmatrix.workspace.manager import MARKER, read_marker

pytestmark = pytest.mark.unit


def test_an_unmarked_folder_is_never_touched_whatever_the_names(tmp_path):
    """The issue's case: WORKSPACE_DIR named `latest` with a project that DevMatrix never created."""
    root = tmp_path / "latest"
    (root / "projectA").mkdir(parents=True)
    (root / "projectA" / "main.py").write_text("x = 1\n")
    (root / "test_lookalike").mkdir()
    lines: list[str] = []
    (result,) = cleanup(Settings(workspace_dir=root), scopes=["workspace"], echo=lines.append)
    assert result.status is Status.SKIPPED and result.detail == "no test workspaces"
    assert (root / "projectA" / "main.py").is_file() and (root / "test_lookalike").is_dir()
    assert f"keeps workspace: {root / 'projectA'} (no .devmatrix-workspace marker naming it:" \
           " DevMatrix did not create it)" in lines


def test_marked_test_workspaces_only_are_listed_then_removed(tmp_path):
    root = tmp_path / "workspaces"
    for workspace_id in ("ws-1", "ws-2"):
        WorkspaceManager(workspace_id, settings=Settings(workspace_dir=root)).close()
    WorkspaceManager("prod-ws", settings=Settings(workspace_dir=root, environment="development")).close()
    (root / "copied").mkdir()  # a marker that names another folder proves nothing
    shutil.copy(root / "ws-1" / MARKER, root / "copied" / MARKER)
    (root / "loose.txt").write_text("x")
    lines: list[str] = []
    (dry,) = cleanup(Settings(workspace_dir=root), scopes=["workspace"], dry=True, echo=lines.append)
    assert dry.status is Status.SKIPPED and dry.detail.startswith("would remove 2 test workspaces")
    assert lines[:2] == [f"would remove workspace: {root / 'ws-1'}", f"would remove workspace: {root / 'ws-2'}"]
    assert len(list(root.iterdir())) == 5
    lines.clear()
    (done,) = cleanup(Settings(workspace_dir=root), scopes=["workspace"], echo=lines.append)
    assert done.status is Status.PASS
    assert lines[0] == f"will remove workspace: {root / 'ws-1'}"  # listed before anything is deleted
    assert sorted(p.name for p in root.iterdir()) == ["copied", "loose.txt", "prod-ws"]


def test_the_marker_is_written_for_new_folders_only_and_never_committed(tmp_path):
    existing = tmp_path / "ws" / "mine"
    existing.mkdir(parents=True)
    (existing / "notes.txt").write_text("my own files")
    with WorkspaceManager("mine", settings=Settings(workspace_dir=tmp_path / "ws")):
        pass
    assert read_marker(existing) is None
    with WorkspaceManager("new", settings=Settings(workspace_dir=tmp_path / "ws")) as workspace:
        assert read_marker(workspace.root)["environment"] == "test"
        workspace.write_and_commit("app.py", "x = 1\n", "feat: app")
        workspace.commit("everything")
        assert workspace.repo.git.ls_files().split() == ["app.py"]


def test_a_server_the_native_provider_does_not_run_is_not_ours():
    reason = not_ours(Settings(devmatrix_provider="external"), "redis")
    assert reason == "DEVMATRIX_PROVIDER=external: DevMatrix does not run this server"


def test_an_unknown_scope_is_a_clear_error():
    with pytest.raises(DevMatrixError, match=r"unknown cleanup scope.*mongo.*choose from postgres"):
        cleanup(Settings(), scopes=["mongo"])
