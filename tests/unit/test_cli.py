"""The `devmatrix` CLI's one error boundary: exit codes, the fix, JSON for scripts, no traceback."""

from __future__ import annotations

import json

import pytest

from devmatrix import cli
from devmatrix.agents.result import GenerationResult
from devmatrix.errors import CollectionMissing, RAGDisabled, ServiceError

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
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(down))
    assert cli.main(["generate", "Write add(a, b)"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("FAIL: redis: cannot reach Redis at 127.0.0.1:6379 — fix: `invoke infra.up -s redis`")


def test_json_mode_prints_the_error_for_scripts(monkeypatch, capsys):
    down = ServiceError("chroma", "heartbeat timed out", fix="`invoke infra.restart -s chroma`")
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(down))
    assert cli.main(["generate", "Write add(a, b)", "--json"]) == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload == {"success": False, "error": "chroma: heartbeat timed out",
                       "error_fix": "`invoke infra.restart -s chroma`", "exit_code": 3, "service": "chroma",
                       "fix": "`invoke infra.restart -s chroma`"}  # `fix`: the key scripts read before error_fix


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_failed_generation_exits_1_with_its_error_and_fix(monkeypatch, capsys, json_flag):
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_recording([]))
    assert cli.main(["generate", "Write add(a, b)", *json_flag]) == 1
    out, err = capsys.readouterr()
    if json_flag:
        payload = json.loads(out)
        assert (payload["success"], payload["error"], payload["error_fix"]) == (False, "rejected: …", "--min-score N")
        assert payload["approval_status"] == "rejected" and payload["usage"] == {"input_tokens": 0, "output_tokens": 0}
    else:
        assert err == "FAIL: rejected: … — fix: --min-score N\n"


def test_a_bug_is_reported_in_one_line_never_as_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(KeyError("boom")))
    assert cli.main(["generate", "Write add(a, b)"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("FAIL: internal error (KeyError: 'boom')") and "Traceback" not in err


def test_the_metrics_are_pushed_once_after_the_command_even_when_it_fails(monkeypatch, capsys, pushes):
    down = ServiceError("redis", "cannot reach Redis", fix="`invoke infra.up -s redis`")
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(down))
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
            return GenerationResult(workspace_id="default", approval_min_score=self.settings.approval_min_score,
                                    approval_status="rejected", error="rejected: …", error_fix="--min-score N")

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
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_recording(calls))
    assert cli.main(["generate", "Write add(a, b)", *flags]) == 1
    assert calls == [expected]
    assert f"review score (≥ {expected[0]:g}/10 asked) is advisory" in capsys.readouterr().out  # local backend


@pytest.mark.parametrize("flags", [["--min-score", "11"], ["--min-score", "x"], ["--review", "--auto-approve"]])
def test_a_bad_gate_flag_is_a_usage_error(capsys, flags):
    with pytest.raises(SystemExit) as caught:
        cli.main(["generate", "Write add(a, b)", *flags])
    assert caught.value.code == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["workflow", "x", "--concurrency", "0"], "argument --concurrency: '0' is not a whole number from 1 to 16"),
    (["workflow", "x", "--concurrency", "-3"], "argument --concurrency: '-3' is not a whole number from 1 to 16"),
    (["workflow", "x", "--concurrency", "two"], "argument --concurrency: 'two' is not a whole number from 1 to 16"),
    (["generate", "x", "--workspace", "../etc"], "argument --workspace: workspace id '../etc' is not allowed;"
                                                 " use letters, digits"),
    (["workflow", "x", "--workspace", ""], "argument --workspace: workspace id '' is not allowed"),
    (["generate", "   "], "argument request: the request is empty: say what code to generate"),
    (["generate", "x" * 20_001], "the request has 20,001 characters; the limit is 20,000"),
])
def test_a_bad_argument_is_a_usage_error_naming_it(capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_a_workflow_without_request_or_resume_exits_2(monkeypatch, capsys):
    assert cli.main(["workflow"]) == 2
    assert 'FAIL: no request given — fix: devmatrix workflow "what to build", or --resume' in capsys.readouterr().err


@pytest.mark.parametrize(("error", "code"), [
    (RAGDisabled("retrieval was asked for (--rag) but RAG_ENABLED=false", fix="set RAG_ENABLED=true"), 2),
    (CollectionMissing("collection 'x' does not exist on 127.0.0.1:8001", fix="`invoke rag.seed`"), 5),
])
def test_rag_settings_and_setup_errors_have_their_own_exit_codes_not_1(monkeypatch, capsys, error, code):
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(error))
    assert cli.main(["generate", "Write add(a, b)", "--rag"]) == code
    assert capsys.readouterr().err.startswith(f"FAIL: {error.message} — fix: {error.fix}")


# --- devmatrix check PATH [--json] ---------------------------------------------------
def test_check_without_a_path_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["check"])
    assert caught.value.code == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_check_of_a_missing_path_exits_2_naming_it_and_the_fix(capsys, tmp_path, json_flag):
    missing = tmp_path / "nope.py"
    assert cli.main(["check", str(missing), *json_flag]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"FAIL: PATH {missing} does not exist — fix: give a .py file or a folder")
    if json_flag:
        assert json.loads(captured.out)["exit_code"] == 2


def test_check_of_a_file_that_is_not_python_exits_2(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not code")
    assert cli.main(["check", str(notes)]) == 2
    assert f"PATH {notes} is not a Python file (.py)" in capsys.readouterr().err


def test_check_help_explains_the_evidence_and_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "inside the bubblewrap sandbox" in out and "never run the code" in out
    assert "0 every check passed, 1 a check failed, 2 bad usage or the evidence could not be gathered" in out
