"""The `devmatrix` CLI's one error boundary: exit codes, the fix, JSON for scripts, no traceback."""

from __future__ import annotations

import json

import pytest

from devmatrix import cli
from devmatrix.agents import codegen
from devmatrix.errors import ServiceError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def pushes(monkeypatch) -> list[str]:
    """The jobs the CLI pushed metrics for (recorded: the unit tier reaches no Pushgateway)."""
    pushed: list[str] = []
    monkeypatch.setattr(cli, "push", lambda settings, job, **_: pushed.append(job))
    return pushed


def _agent_raising(error: BaseException):
    class Agent:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def generate(self, *args, **kwargs):
            raise error

    return Agent


def test_a_service_that_is_down_exits_3_naming_it_and_the_fix(monkeypatch, capsys):
    down = ServiceError("redis", "cannot reach Redis at 127.0.0.1:6379", fix="`invoke infra.up -s redis`")
    monkeypatch.setattr(codegen, "CodeGenerationAgent", _agent_raising(down))
    assert cli.main(["generate", "Write add(a, b)"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("FAIL: redis: cannot reach Redis at 127.0.0.1:6379 — fix: `invoke infra.up -s redis`")


def test_json_mode_prints_the_error_for_scripts(monkeypatch, capsys):
    down = ServiceError("chroma", "heartbeat timed out", fix="`invoke infra.restart -s chroma`")
    monkeypatch.setattr(codegen, "CodeGenerationAgent", _agent_raising(down))
    assert cli.main(["generate", "Write add(a, b)", "--json"]) == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload == {"success": False, "error": "chroma: heartbeat timed out — fix: `invoke infra.restart -s chroma`",
                       "exit_code": 3, "service": "chroma", "fix": "`invoke infra.restart -s chroma`"}


def test_a_bug_is_reported_in_one_line_never_as_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(codegen, "CodeGenerationAgent", _agent_raising(KeyError("boom")))
    assert cli.main(["generate", "Write add(a, b)"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("FAIL: internal error (KeyError: 'boom')") and "Traceback" not in err


def test_the_metrics_are_pushed_once_after_the_command_even_when_it_fails(monkeypatch, capsys, pushes):
    down = ServiceError("redis", "cannot reach Redis", fix="`invoke infra.up -s redis`")
    monkeypatch.setattr(codegen, "CodeGenerationAgent", _agent_raising(down))
    monkeypatch.setattr(cli, "push", lambda settings, job, **_: pushes.append(
        (job, capsys.readouterr().err.startswith("FAIL: redis"))))
    assert cli.main(["generate", "Write add(a, b)"]) == 3
    assert pushes == [("devmatrix-cli", True)]  # one push, after the FAIL line


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "3 a service is down or frozen" in capsys.readouterr().out
