"""The invoke tasks' flags and help: one meaning per short flag, one help text per task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Program

from devmatrix.chaos.faults import FAULTS
from devmatrix.chaos.work import WORKLOADS
from devmatrix.rag.retriever import RetrievalStrategy
from devmatrix.tasks import namespace
from devmatrix.tasks._common import SHORT_FLAGS, Number

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


# --- a bad flag value is `FAIL: … — fix: …`, exit 2, before the task reads settings or calls a service ----
def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as ended:
        Program(namespace=namespace).run(["invoke", *argv])
    return ended.value.code


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    """A settings file that cannot load: a task body that ran anyway would fail on it instead."""
    bad = tmp_path / "bad.env"
    bad.write_text("REDIS_PORT=not-a-port\n")
    monkeypatch.setenv("DEVMATRIX_ENV_FILE", str(bad))


@pytest.mark.parametrize(("argv", "message"), [
    (["infra.logs", "postgres", "--lines", "abc"],
     "--lines 'abc' is not a whole number — fix: give a whole number from 1 to 100000"),
    (["infra.logs", "postgres", "--lines", "-5"],
     "--lines -5 is out of range — fix: give a whole number from 1 to 100000"),
    (["rag.query", "fib", "--top-k", "-1"],
     "--top-k -1 is out of range — fix: give a whole number from 1 to 100, or leave it out for RAG_TOP_K"),
    (["rag.query", "fib", "--top-k", "many"], "--top-k 'many' is not a whole number — fix: give a whole number from 1"),
    (["rag.query", "fib", "--threshold", "2"], "--threshold 2 is out of range — fix: give a number from 0 to 1"),
    (["rag.query", "fib", "--strategy", "best"], "--strategy 'best' is not one of the choices — fix: choose from:"
                                                 " similarity, mmr"),
    (["rag.eval", "--threshold", "-0.5"], "--threshold -0.5 is out of range"),
    (["chaos", "-s", "mysql", "--dry"], "--service 'mysql' is not one of the choices — fix: choose from: postgres,"),
    (["chaos", "-s", "chroma", "--fault", "melt", "--dry"], "--fault 'melt' is not one of the choices"
                                                            " — fix: choose from: kill, freeze"),
    (["chaos", "-s", "chroma", "--during", "lunch", "--dry"], "--during 'lunch' is not one of the choices"),
    (["backup", "--keep", "-1", "--dry"], "--keep -1 is out of range — fix: give a whole number from 1 to 1000"),
    (["backup.schedule", "--keep", "0x", "--dry"], "--keep '0x' is not a whole number"),
    (["monitoring.snapshot", "--minutes", "0"], "--minutes 0 is out of range"),
    (["rag.query", "  "], "the text argument of rag.query is empty — fix: give the text"),
    (["infra.logs", "postgres", "--lines", "99999999999999999999"], "--lines 99999999999999999999 is out of range"),
    (["monitoring.snapshot", "--out", ""], "--out is empty — fix: name a folder"),
    (["infra.logs", ""], "the service argument of infra.logs is empty"),
])
def test_a_bad_flag_value_is_named_with_the_fix_and_exits_2(no_settings, capsys, argv, message):
    assert _run(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("FAIL: ") and message in err, err
    assert "internal error" not in err and "Traceback" not in err


def test_a_folder_flag_that_names_a_file_exits_2(no_settings, capsys, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert _run(["backup", "--to", str(a_file), "--dry"]) == 2
    assert f"--to {a_file}: it is a file, not a folder — fix: name a folder" in capsys.readouterr().err


def test_every_number_flag_has_a_range_and_every_range_is_on_a_real_flag():
    for name, task in _tasks(namespace):
        numbers = [a.name for a in task.get_arguments() if a.kind in (int, float)]
        for flag in numbers:
            assert isinstance(task.checks.get(flag), Number), f"{name} --{flag} has no range check"


def test_the_choices_are_the_ones_the_code_accepts():
    query = namespace.collections["rag"].tasks["query"]
    assert set(query.checks["strategy"].choices) == {s.value for s in RetrievalStrategy}
    chaos = namespace.tasks["chaos"]
    assert chaos.checks["fault"].choices == FAULTS and chaos.checks["during"].choices == WORKLOADS


def test_a_backup_path_that_is_a_file_or_missing_is_bad_usage(no_settings, tmp_path):
    from devmatrix.backup import manifest
    from devmatrix.errors import UsageError

    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="is a file, not a backup folder"):
        manifest.resolve(str(a_file), tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        manifest.resolve(str(tmp_path / "nope"), tmp_path)
