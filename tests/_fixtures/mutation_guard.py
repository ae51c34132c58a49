"""A pytest plugin for `nox -s mutation` (mutmut): the tests must import the mutated copy of
devmatrix (mutants/src), never the editable install of the work tree.

mutmut runs pytest with its working directory in mutants/ and puts mutants/src first on
sys.path, taking the work tree's src/ off it. That holds for an editable install that is a
plain path in a .pth file (what setuptools writes for this src layout), but not for one that
installs an import finder (setuptools' strict mode, other build backends): the finder serves
the original package whatever sys.path says. So this plugin takes such finders off
sys.meta_path, and fails the whole run (exit 4, which mutmut reports as a bad test command)
if devmatrix still imports from anywhere but mutants/src: a run that tests the original
code would report every mutant as surviving, and the scores would be lies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def _drop_editable_finders() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not type(finder).__module__.startswith("__editable__")
                        and not getattr(finder, "__module__", "").startswith("__editable__")]


def pytest_configure(config: pytest.Config) -> None:
    mutated = (Path.cwd() / "src").resolve()
    _drop_editable_finders()
    import devmatrix

    where = Path(devmatrix.__file__).resolve()
    if not where.is_relative_to(mutated):
        raise pytest.UsageError(f"mutation run: devmatrix imports from {where.parent}, not from the mutated copy"
                                f" {mutated / 'devmatrix'}; the editable install wins over mutmut's sys.path"
                                " (run mutmut from the project root, in a venv whose devmatrix is an editable"
                                " path install, as `nox -s mutation` does)")
