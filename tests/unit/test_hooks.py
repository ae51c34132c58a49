"""The git hooks need only the package registry, and pin the tools pyproject.toml pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
CONFIG = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def test_every_hook_is_local_and_installed_from_pypi():
    """No hook repository is fetched from GitHub: machines here reach PyPI only."""
    assert {repo["repo"] for repo in CONFIG["repos"]} == {"local"}
    for hook in (h for repo in CONFIG["repos"] for h in repo["hooks"]):
        assert hook["language"] == "python" and all("==" in d for d in hook["additional_dependencies"]), hook["id"]


@pytest.mark.parametrize("tool", ["ruff", "detect-secrets"])
def test_a_hook_runs_the_version_pyproject_pins(tool):
    pins = {d for repo in CONFIG["repos"] for h in repo["hooks"] for d in h["additional_dependencies"]
            if d.startswith(f"{tool}==")}
    assert pins == set(re.findall(rf'"({re.escape(tool)}==[^"]+)"', PYPROJECT))
