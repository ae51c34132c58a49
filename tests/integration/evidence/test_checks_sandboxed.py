"""Evidence on real code: parse and ruff on the host, import and the code's tests in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.evidence import gather, gather_files

pytestmark = pytest.mark.integration

GOOD = '''from functools import lru_cache


@lru_cache(maxsize=None)
def fibonacci(n: int) -> int:
    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)


def test_fibonacci():
    assert [fibonacci(i) for i in range(7)] == [0, 1, 1, 2, 3, 5, 8]
'''
# What README's fibonacci example kept before evidence existed (issue 25): it parses and
# imports, and raises TypeError on every call.
KEPT_BEFORE = '''memo = {0, 1}


def fibonacci(n):
    return 1, memo[n]


def test_fibonacci():
    assert fibonacci(5) == 5
'''


def _by_name(evidence) -> dict[str, object]:
    return {check.name: check for check in evidence.checks}


def test_good_code_passes_every_check_and_its_tests_ran(sandbox):
    evidence = gather_files({"fib.py": GOOD}, sandbox)
    checks = _by_name(evidence)
    assert evidence.passed and set(checks) == {"ast", "ruff", "import", "pytest"}
    assert not any(check.skipped for check in evidence.checks)
    assert "1 passed" in checks["pytest"].output


def test_code_that_imports_but_fails_its_own_tests_is_caught(sandbox):
    evidence = gather_files({"fib.py": KEPT_BEFORE}, sandbox)
    checks = _by_name(evidence)
    assert checks["ast"].passed and checks["ruff"].passed and checks["import"].passed
    assert not evidence.passed and not checks["pytest"].passed
    assert "TypeError" in checks["pytest"].output and "1 failed" in checks["pytest"].output
    assert "TypeError" in evidence.feedback()


def test_undefined_names_fail_ruff_and_a_syntax_error_fails_ast(sandbox):
    evidence = gather_files({"a.py": "def f():\n    return missing_name\n", "b.py": "def g(:\n"}, sandbox)
    failed = {(check.name, check.target) for check in evidence.failures}
    assert failed == {("ruff", "a.py"), ("ast", "b.py"), ("ruff", "b.py")}
    assert "F821" in next(c.output for c in evidence.checks if c.name == "ruff" and c.target == "a.py")
    skipped = next(c for c in evidence.checks if c.name == "import" and c.target == "b.py")
    assert skipped.skipped and skipped.passed  # not imported: it does not parse


def test_a_module_that_hangs_on_import_fails_at_the_deadline(sandbox):
    evidence = gather_files({"server.py": "import time\nwhile True:\n    time.sleep(1)\n"}, sandbox)
    imported = _by_name(evidence)["import"]
    assert not imported.passed and imported.limits_hit == ("wall",)
    assert "stopped by the sandbox: wall" in imported.output


def test_a_folder_with_a_package_and_its_tests(sandbox, tmp_path: Path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("from .core import add\n")
    (tmp_path / "app" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "test_app.py").write_text("from app import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    evidence = gather(tmp_path, sandbox)
    assert evidence.passed, evidence.feedback()
    assert {(c.name, c.target) for c in evidence.checks if c.name in ("import", "pytest")} == {
        ("import", "app/__init__.py"), ("import", "app/core.py"), ("pytest", "test_app.py")}


def test_code_without_tests_is_judged_on_the_rest_and_says_so(sandbox):
    evidence = gather_files({"util.py": "def double(x):\n    return 2 * x\n"}, sandbox)
    pytest_check = _by_name(evidence)["pytest"]
    assert evidence.passed and pytest_check.skipped and "no tests found" in pytest_check.output
