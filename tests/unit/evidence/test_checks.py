"""The parts of the checks that run nothing: reading files, naming modules, finding tests."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from devmatrix.errors import EvidenceError
from devmatrix.evidence.checks import (
    CheckResult,
    Evidence,
    _has_tests,
    _module_name,
    _parse,
    excerpt,
    read_files,
)

pytestmark = pytest.mark.unit


def test_a_folder_is_read_without_caches_vcs_data_or_symlinks(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    secret = tmp_path.parent / f"{tmp_path.name}-secret"
    secret.write_text("sk-ant-not-for-the-sandbox")
    os.symlink(secret, tmp_path / "link.py")  # a symlink is never followed
    assert read_files(tmp_path) == {"pkg/mod.py": "x = 1\n"}


def test_a_missing_path_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(EvidenceError) as failed:
        read_files(tmp_path / "nope.py")
    assert str(tmp_path / "nope.py") in failed.value.message and failed.value.fix


def test_a_folder_too_big_for_generated_code_is_refused(tmp_path: Path):
    for index in range(3):
        (tmp_path / f"m{index}.py").write_text("")
    assert len(read_files(tmp_path, max_files=3)) == 3
    with pytest.raises(EvidenceError, match="more than 2 files"):
        read_files(tmp_path, max_files=2)


@pytest.mark.parametrize(("path", "module"), [
    ("fib.py", "fib"), ("pkg/mod.py", "pkg.mod"), ("pkg/__init__.py", "pkg"), ("my-file.py", "my-file"),
])
def test_module_names(path, module):
    assert _module_name(path) == module


@pytest.mark.parametrize(("source", "has"), [
    ("def test_x():\n    pass\n", True),
    ("async def test_x():\n    pass\n", True),
    ("class TestX:\n    pass\n", True),
    ("def helper():\n    def test_inner():\n        pass\n", False),  # only top-level ones
    ("x = 1\n", False),
])
def test_modules_with_their_own_tests_are_found(source, has):
    assert _has_tests(ast.parse(source)) is has


def test_a_syntax_error_names_its_line():
    result, tree = _parse("bad.py", "x = 1\ndef f(:\n")
    assert tree is None and not result.passed
    assert result.output.startswith("SyntaxError: line 2:")


def test_an_excerpt_keeps_the_head_and_the_tail():
    text = "Traceback (most recent call last):\n" + "x" * 10_000 + "\nTypeError: boom"
    cut = excerpt(text, limit=400)
    assert len(cut) < 500 and cut.startswith("Traceback") and cut.endswith("TypeError: boom")
    assert "characters cut" in cut
    assert excerpt("short\n") == "short"


def test_evidence_passes_only_when_no_check_fails():
    ok = CheckResult("ast", "a.py", True, "", 0.0)
    skipped = CheckResult("pytest", ".", True, "no tests found", 0.0, skipped=True)
    failed = CheckResult("import", "a.py", False, "ImportError: no module named x", 0.1)
    assert Evidence("a.py", (ok, skipped)).passed
    evidence = Evidence("a.py", (ok, failed))
    assert not evidence.passed and evidence.failures == (failed,)
    assert evidence.feedback() == "import of a.py failed:\nImportError: no module named x"
    assert evidence.to_dict()["checks"][1] == {"name": "import", "target": "a.py", "passed": False,
                                               "output": "ImportError: no module named x", "seconds": 0.1,
                                               "skipped": False, "limits_hit": ()}
