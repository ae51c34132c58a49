"""The seed corpus is data that proves itself: every example runs its own asserts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devmatrix.errors import RAGError
from devmatrix.rag.corpus import TOPICS, examples_dir, load_corpus, parse_example

pytestmark = pytest.mark.unit
EXAMPLE_FILES = sorted(examples_dir().glob("*.py"))


def test_the_corpus_has_at_least_30_examples_covering_every_topic():
    corpus = load_corpus()
    assert len(corpus) >= 30
    assert {e.topic for e in corpus} == set(TOPICS)
    fibonacci = next(e for e in corpus if e.id == "fibonacci_memo")
    assert "memoization" in fibonacci.tags and "def fibonacci" in fibonacci.code


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_each_example_passes_its_own_asserts(path: Path, tmp_path: Path):
    run = subprocess.run([sys.executable, "-W", "error", str(path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_file_with_bad_metadata_is_named_with_every_problem(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("# id: Bad Id\n# title: x\n# topic: cooking\nprint(1)\n")
    with pytest.raises(RAGError) as caught:
        parse_example(bad)
    message = str(caught.value)
    assert str(bad) in message and "tags" in message and "'cooking'" in message and "'Bad Id'" in message


def test_duplicate_ids_name_both_files(tmp_path: Path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("# id: same_id\n# title: t\n# topic: testing\n# tags: x\nx = 1\n")
    with pytest.raises(RAGError, match=r"a\.py and .*b\.py"):
        load_corpus(tmp_path)


def test_a_folder_without_examples_is_named_with_the_fix(tmp_path: Path):
    with pytest.raises(RAGError) as caught:
        load_corpus(tmp_path)
    assert caught.value.message == f"no corpus examples in {tmp_path}"
    assert caught.value.fix == "reinstall devmatrix-local"
