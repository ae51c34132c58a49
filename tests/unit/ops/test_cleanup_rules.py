"""Cleanup's rules that need no server: the workspace guard and scope names."""

from __future__ import annotations

import pytest

from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError
from devmatrix.ops.checks import Status
from devmatrix.ops.cleanup import cleanup

pytestmark = pytest.mark.unit


def test_a_workspace_whose_name_is_not_a_test_one_is_never_touched(tmp_path):
    real = tmp_path / "projects"
    (real / "app").mkdir(parents=True)
    (result,) = cleanup(Settings(workspace_dir=real), scopes=["workspace"])
    assert result.status is Status.SKIPPED
    assert "not a test workspace" in result.detail
    assert (real / "app").is_dir()


def test_the_test_workspace_keeps_its_repository(tmp_path):
    root = tmp_path / "workspace_test"
    for name in (".git", "ws-1", "ws-2"):
        (root / name).mkdir(parents=True)
    (root / ".gitkeep").touch()
    (root / "loose.txt").write_text("x")
    (dry,) = cleanup(Settings(workspace_dir=root), scopes=["workspace"], dry=True)
    assert dry.status is Status.SKIPPED and dry.detail.startswith("would remove 3 test workspace entries")
    assert len(list(root.iterdir())) == 5
    (done,) = cleanup(Settings(workspace_dir=root), scopes=["workspace"])
    assert done.status is Status.PASS
    assert sorted(p.name for p in root.iterdir()) == [".git", ".gitkeep"]


def test_an_unknown_scope_is_a_clear_error():
    with pytest.raises(DevMatrixError, match=r"unknown cleanup scope.*mongo.*choose from postgres"):
        cleanup(Settings(), scopes=["mongo"])
