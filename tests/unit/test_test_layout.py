"""The test tree collects as one: `pytest tests` (no __init__.py, rootdir imports) fails with
"import file mismatch" when two test files share a basename, though each tier alone passes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).parents[1]


def test_no_two_test_files_share_a_basename():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
