"""The one error boundary: every `main()` and every Invoke task end the same way, with README's exit codes."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from invoke import Collection, Exit, Program

from devmatrix import boundary
from devmatrix.boundary import Failure, run_main
from devmatrix.errors import (
    ChecksFailed,
    CollectionMissing,
    ConfigError,
    LLMError,
    RAGDisabled,
    ServiceBusy,
    ServiceError,
    UsageError,
    WorkflowInterrupted,
)
from devmatrix.tasks._common import task

pytestmark = pytest.mark.unit
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(("error", "code"), [
    (LLMError("the model wrote no code", fix="reword it"), 1),
    (ChecksFailed("2 checks failed"), 1),
    (ConfigError(["POSTGRES_PORT=abc is not a port number"], source=".env.test"), 2),
    (UsageError("--lines 0 is out of range"), 2),
    (RAGDisabled("RAG_ENABLED=false"), 2),
    (ServiceError("redis", "cannot reach Redis"), 3),
    (WorkflowInterrupted("wf-1", ServiceError("redis", "down")), 3),
    (ServiceBusy("api", "every slot is in use", retry_after_s=10), 4),
    (CollectionMissing("the collection is empty", fix="`invoke rag.seed`"), 5),
    (KeyboardInterrupt(), 130),
    (KeyError("boom"), 1),
])
def test_each_error_ends_with_readme_s_exit_code(error, code):
    assert Failure.of(error).exit_code == code


def test_the_readme_table_and_the_cli_epilog_name_the_same_codes():
    from devmatrix.cli import EXIT_CODES

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("Exit codes: 0 done"):].split("\n\n")[0]
    for code in ("0", "1", "2", "3", "4", "5"):
        assert re.search(rf"\b{code} ", table) and re.search(rf"\b{code} ", EXIT_CODES), code


def test_a_failure_prints_one_line_with_its_fix_and_json_for_scripts(capsys):
    def down() -> int:
        raise WorkflowInterrupted("wf-1", ServiceError("redis", "cannot reach Redis", fix="`invoke infra.up -s redis`"))

    assert run_main(down, json_errors=True) == 3
    out, err = capsys.readouterr()
    assert err.startswith("FAIL: workflow wf-1 interrupted: redis: cannot reach Redis; its finished tasks are saved"
                          " — fix: `invoke infra.up -s redis`, then `devmatrix workflow --resume wf-1`")
    assert json.loads(out) == {"success": False, "error": "workflow wf-1 interrupted: redis: cannot reach Redis;"
                                                          " its finished tasks are saved",
                               "error_fix": "`invoke infra.up -s redis`, then `devmatrix workflow --resume wf-1`",
                               "fix": "`invoke infra.up -s redis`, then `devmatrix workflow --resume wf-1`",
                               "exit_code": 3, "service": "redis", "workflow_id": "wf-1"}


def test_a_bug_is_one_line_and_exit_1_never_a_traceback(capsys, monkeypatch):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert run_main(lambda: {}["missing"]) == 1
    err = capsys.readouterr().err
    assert err == f"FAIL: internal error (KeyError: 'missing') — fix: {boundary.BUG_FIX}\n"


def test_done_is_the_body_s_own_code(capsys):
    assert run_main(lambda: 0) == 0 and run_main(lambda: 1) == 1
    assert capsys.readouterr() == ("", "")


def _main_functions() -> list[tuple[Path, ast.FunctionDef]]:
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]
    return [(path, node) for path in files for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name == "main"]


def test_every_main_goes_through_run_main_and_catches_nothing_itself():
    mains = _main_functions()
    assert len(mains) >= 10  # cli, the servers, the generators, the scripts, ...
    for path, main in mains:
        called = {node.func.id for node in ast.walk(main)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert "run_main" in called, f"{path}: main() does not go through devmatrix.boundary.run_main"
        assert not any(isinstance(node, ast.Try) and node.handlers for node in ast.walk(main)), \
            f"{path}: main() catches errors itself"


def test_tasks_fail_only_by_raising_our_errors():
    for path in (ROOT / "src" / "devmatrix" / "tasks").glob("*.py"):
        if path.name != "_common.py":
            assert "Exit(" not in path.read_text(), f"{path.name} raises invoke's Exit: raise our error instead"


# --- a task: the same mapping, through invoke ----------------------------------------------------------
@task(name="failing")
def _failing(c, kind="service"):
    raise {"service": ServiceError("chroma", "heartbeat timed out", fix="`invoke infra.restart -s chroma`"),
           "checks": ChecksFailed("1 of 3 checks failed (above)"),
           "bug": ZeroDivisionError("division by zero")}[kind]


@pytest.mark.parametrize(("kind", "code", "line"), [
    ("service", 3, "FAIL: chroma: heartbeat timed out — fix: `invoke infra.restart -s chroma`"),
    ("checks", 1, "FAIL: 1 of 3 checks failed (above)"),
    ("bug", 1, "FAIL: internal error (ZeroDivisionError: division by zero) — fix: this is a bug"),
])
def test_a_task_s_error_is_the_same_line_and_exit_code(capsys, kind, code, line):
    with pytest.raises(SystemExit) as ended:
        Program(namespace=Collection(_failing)).run(["invoke", "failing", "--kind", kind])
    assert ended.value.code == code
    assert capsys.readouterr().err.startswith(line)


def test_a_nested_task_s_failure_is_reported_once(capsys):
    @task
    def outer(c):
        _failing(c, kind="checks")

    with pytest.raises(Exit):
        outer(None)
    assert capsys.readouterr().err.count("FAIL:") == 1


def test_with_log_level_debug_a_bug_shows_its_traceback_before_the_line(capsys, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert run_main(lambda: {}["missing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "KeyError: 'missing'\n" in err
    assert err.endswith(f"FAIL: internal error (KeyError: 'missing') — fix: {boundary.BUG_FIX}\n")
    # our own errors stay one line, whatever the log level
    assert run_main(lambda: (_ for _ in ()).throw(ServiceError("redis", "cannot reach Redis"))) == 3
    assert capsys.readouterr().err == "FAIL: redis: cannot reach Redis\n"
