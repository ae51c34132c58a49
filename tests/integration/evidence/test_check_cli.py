"""`devmatrix check PATH [--json]`, the console script, on a passing and a failing file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DEVMATRIX = str(Path(sys.executable).parent / "devmatrix")
CLI_TIMEOUT_S = 110  # a few sandboxed runs of a second each; the test tier's timeout is 120 s

PASSING = "def add(a, b):\n    return a + b\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FAILING = "def add(a, b):\n    return a - b\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DEVMATRIX, "check", *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          check=False)


def test_a_passing_file_exits_0(tmp_path: Path):
    (tmp_path / "add.py").write_text(PASSING)
    done = _check(str(tmp_path / "add.py"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"evidence for {tmp_path / 'add.py'}: passed")
    assert "✓ pytest  add.py" in done.stdout


def test_a_failing_file_exits_1_and_json_carries_each_check(tmp_path: Path):
    (tmp_path / "add.py").write_text(FAILING)
    done = _check(str(tmp_path / "add.py"), "--json")
    assert done.returncode == 1, done.stderr
    evidence = json.loads(done.stdout)
    assert evidence["passed"] is False and evidence["exit_code"] == 1
    by_name = {check["name"]: check for check in evidence["checks"]}
    assert [by_name[name]["passed"] for name in ("ast", "ruff", "import", "pytest")] == [True, True, True, False]
    assert "assert -1 == 5" in by_name["pytest"]["output"]
    assert set(by_name["pytest"]) == {"name", "target", "passed", "output", "seconds", "skipped", "limits_hit"}
