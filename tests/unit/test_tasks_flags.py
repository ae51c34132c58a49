"""The invoke tasks' flags and help: one meaning per short flag, one help text per task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devmatrix.tasks import namespace
from devmatrix.tasks._common import SHORT_FLAGS

pytestmark = pytest.mark.unit


def _tasks(collection, prefix=""):
    for name, task in collection.tasks.items():
        yield prefix + name, task
    for name, sub in collection.collections.items():
        yield from _tasks(sub, f"{name}.")


def test_short_flags_are_the_explicit_ones_only():
    meaning = {short: name.rstrip("_").replace("_", "-") for name, short in SHORT_FLAGS.items()}
    for name, task in _tasks(namespace):
        for argument in task.get_arguments():
            long_name = argument.name.rstrip("_").replace("_", "-")
            shorts = [n for n in argument.names if len(n) == 1]
            assert all(meaning.get(s) == long_name for s in shorts), (name, argument.names)


def test_rag_query_h_is_not_threshold():
    rag_query = namespace.collections["rag"].tasks["query"]
    assert all("h" not in a.names for a in rag_query.get_arguments())


def test_each_infra_task_says_what_its_own_default_is():
    def service_help(verb: str) -> str:
        done = subprocess.run([sys.executable, "-m", "invoke", "--help", f"infra.{verb}"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parents[2], timeout=60)
        return " ".join(done.stdout.split("--service")[1].split())

    helps = {verb: service_help(verb) for verb in ("up", "down", "restart", "status")}
    assert len(set(helps.values())) == 4, helps
    assert "the supervisor" in helps["down"] and "monitoring.up" in helps["up"]
