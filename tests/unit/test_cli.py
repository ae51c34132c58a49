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


def _agent_recording(calls: list):
    class Agent:
        def __init__(self, *args, settings, **kwargs) -> None:
            self.settings = settings

        def generate(self, *args, **kwargs):
            calls.append((self.settings.approval_min_score, kwargs["auto_approve"]))
            return {"success": False, "error": "rejected: …", "approval_status": "rejected"}

    return Agent


@pytest.mark.parametrize(("flags", "expected"), [
    ([], (7.0, True)),
    (["--min-score", "4.5"], (4.5, True)),
    (["--review"], (7.0, False)),
    (["--review", "--min-score", "0"], (0.0, False)),
    (["--auto-approve"], (7.0, True)),
])
def test_the_gate_flags_reach_the_agent(monkeypatch, capsys, flags, expected):
    monkeypatch.setenv("APPROVAL_MIN_SCORE", "7")
    calls: list = []
    monkeypatch.setattr(codegen, "CodeGenerationAgent", _agent_recording(calls))
    assert cli.main(["generate", "Write add(a, b)", *flags]) == 1
    assert calls == [expected]
    assert f"review gate: commit at score ≥ {expected[0]:g}/10" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [["--min-score", "11"], ["--min-score", "x"], ["--review", "--auto-approve"]])
def test_a_bad_gate_flag_is_a_usage_error(capsys, flags):
    with pytest.raises(SystemExit) as caught:
        cli.main(["generate", "Write add(a, b)", *flags])
    assert caught.value.code == 2
