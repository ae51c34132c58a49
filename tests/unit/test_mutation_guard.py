"""`nox -s mutation`'s guard: the tests import the mutated copy (mutants/src), or the run fails.

Each case runs in a fresh interpreter whose working directory plays mutants/: a src/devmatrix
of its own, and an editable install's import finder in front that serves another devmatrix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

GUARD = Path(__file__).parents[1] / "_fixtures" / "mutation_guard.py"
# an import finder as setuptools' strict editable install makes one: it serves `devmatrix` from
# elsewhere, whatever sys.path says
SCRIPT = """
import importlib.abc, importlib.util, sys, types
sys.path.insert(0, {src!r})
finder = types.new_class("_EditableFinder", (importlib.abc.MetaPathFinder,))
finder.__module__ = "__editable___devmatrix_local_0_1_0_finder"
def find_spec(self, name, path=None, target=None):
    if name == "devmatrix":
        return importlib.util.spec_from_file_location(name, {other!r})
finder.find_spec = find_spec
sys.meta_path.insert(0, finder())
{prelude}
sys.path.insert(0, {guard_dir!r})
import mutation_guard, pytest
try:
    mutation_guard.pytest_configure(None)
except pytest.UsageError as error:
    print("REFUSED", error)
else:
    import devmatrix
    print("IMPORTED", devmatrix.WHERE)
"""


def _run(tmp_path: Path, prelude: str = "") -> str:
    mutated = tmp_path / "mutants"
    (mutated / "src" / "devmatrix").mkdir(parents=True)
    (mutated / "src" / "devmatrix" / "__init__.py").write_text("WHERE = 'mutated copy'\n")
    other = tmp_path / "worktree" / "devmatrix" / "__init__.py"
    other.parent.mkdir(parents=True)
    other.write_text("WHERE = 'editable install'\n")
    script = SCRIPT.format(src=str(mutated / "src"), other=str(other), guard_dir=str(GUARD.parent), prelude=prelude)
    result = subprocess.run([sys.executable, "-c", script], cwd=mutated, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_editable_finder_is_taken_away_and_the_mutated_copy_imported(tmp_path):
    assert _run(tmp_path).strip() == "IMPORTED mutated copy"


def test_a_devmatrix_imported_from_elsewhere_fails_the_run(tmp_path):
    out = _run(tmp_path, prelude="import devmatrix  # imported through the finder before the guard ran")
    assert out.startswith("REFUSED mutation run: devmatrix imports from") and "worktree" in out
