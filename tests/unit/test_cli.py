"""The `devmatrix` CLI's one error boundary: exit codes, the fix, JSON for scripts, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

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


@pytest.fixture(autouse=True)
def no_workers(monkeypatch) -> None:
    """The unit tier reaches no broker: generations run in this process, as with no worker up."""
    monkeypatch.setattr(cli, "_workers", lambda settings: (None, "no worker answered a ping within 2 s"))


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
    # a byte that is not UTF-8 (the shell's $'\\xff', decoded by Python as a surrogate) reached
    # Postgres and was an internal error; an id longer than the column cannot be one
    (["workflow", "--resume", "ab\udcffcd"], "argument --resume: --resume 'ab\\udcffcd' holds bytes that are"
                                              " not UTF-8 text"),
    (["generate", "add \udcff numbers"], "argument request: the request 'add \\udcff numbers' holds bytes that"
                                         " are not UTF-8 text"),
    (["workflow", "build \udcff it"], "argument request: 'build \\udcff it' holds bytes that are not UTF-8 text"),
    (["workflow", "--resume", "w" * 65], "is not a workflow id (1 to 64 characters)"),
    (["workflow", "--resume", " "], "is not a workflow id"),
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


# --- where a generation runs, and `devmatrix jobs` ---------------------------------

RESULT = {"success": True, "approval_status": "approved", "file_path": "/w/demo/add.py", "git_commit_hash": "c" * 40,
          "quality_score": 8.0, "usage": {"input_tokens": 10, "output_tokens": 5}, "cost_usd": 0.0,
          "latency_s": 1.0, "backend": "local", "model": "m", "log_id": 7, "evidence": [],
          "logging_error": None, "error": None, "workspace_id": "demo", "approval_min_score": 3.0}


class _Job:
    def __init__(self, result=None, status="succeeded", error=None):
        from datetime import UTC, datetime

        self.job_id, self.status, self.worker, self.attempts, self.max_attempts = \
            "0" * 8 + "-0000-0000-0000-" + "0" * 12, status, "worker-0@host.abc", 1, 3
        self.result, self.error = result, error
        self.request = {"request": "Write add(a, b)", "workspace_id": "demo", "caller": "cli"}
        self.created_at = self.started_at = self.finished_at = datetime(2026, 12, 6, tzinfo=UTC)
        self.finished = status in ("succeeded", "failed", "cancelled")


class _Jobs:
    """A JobClient whose workers answered: records what was submitted, answers with ``job``."""

    def __init__(self, job: _Job) -> None:
        self.job, self.sent, self.closed = job, [], False

    def run(self, body, *, caller):
        from devmatrix.jobs.outcome import failure_of

        self.sent.append((body, caller))
        if self.job.result is None:
            raise failure_of(self.job.job_id, self.job.status, self.job.error)
        return self.job

    def close(self):
        self.closed = True


def test_with_a_worker_up_generate_submits_a_job_and_says_so(monkeypatch, capsys):
    jobs = _Jobs(_Job(RESULT))
    monkeypatch.setattr(cli, "_workers", lambda settings: (jobs, "worker-0@host.abc answered"))
    monkeypatch.setattr(cli, "CodeGenerationAgent", _agent_raising(AssertionError("ran in-process")))
    assert cli.main(["generate", "Write add(a, b)", "--workspace", "demo", "--no-git", "--min-score", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"ran on worker worker-0@host.abc (job {jobs.job.job_id})"
    ((body, caller),) = jobs.sent
    assert caller == "cli" and body == {"request": "Write add(a, b)", "workspace_id": "demo", "git_enabled": False,
                                        "auto_approve": True, "enable_rag": False, "min_score": 3.0,
                                        "use_cache": True, "workspace_dir": body["workspace_dir"]}
    assert Path(body["workspace_dir"]).is_absolute()  # the worker writes where this command would
    assert jobs.closed


def test_json_says_where_it_ran_in_a_field(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_workers", lambda settings: (_Jobs(_Job(RESULT)), "answered"))
    assert cli.main(["generate", "Write add(a, b)", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["executed_by"] == "worker" and payload["worker"] == "worker-0@host.abc" and payload["log_id"] == 7


class _AgentOfResult:
    """An agent that generates RESULT without a model: where the CLI runs it is the subject."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def generate(self, *args, **kwargs):
        return GenerationResult.model_validate(RESULT)


def test_with_no_worker_up_generate_runs_here_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(cli, "CodeGenerationAgent", _AgentOfResult)
    assert cli.main(["generate", "Write add(a, b)"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ran in this process (no worker answered a ping within 2 s)"
    assert cli.main(["generate", "Write add(a, b)", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["executed_by"] == "in-process"


def test_in_process_runs_here_even_with_a_worker_up(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_workers", lambda settings: pytest.fail("asked the workers"))

    monkeypatch.setattr(cli, "CodeGenerationAgent", _AgentOfResult)
    assert cli.main(["generate", "Write add(a, b)", "--in-process"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ran in this process (--in-process)"


def test_a_job_that_failed_on_an_llm_outage_exits_3_naming_the_llm(monkeypatch, capsys):
    from devmatrix.jobs.outcome import error_of

    down = ServiceError("llm", "cannot reach the local backend at 127.0.0.1:1", fix="`invoke infra.up -s llm`")
    monkeypatch.setattr(cli, "_workers", lambda settings: (_Jobs(_Job(None, "failed", error_of(down))), "answered"))
    assert cli.main(["generate", "Write add(a, b)"]) == 3
    assert capsys.readouterr().err.startswith("FAIL: llm: cannot reach the local backend at 127.0.0.1:1 — fix:")


class _Workflow:
    """A MultiAgentWorkflow that records whether it was given the workers (``nodes``)."""

    given: ClassVar[list] = []

    def __init__(self, orchestrator, scratchpad, *, max_concurrency, nodes, on_event) -> None:
        _Workflow.given.append(nodes)

    def execute(self, request, workspace_id, *, workflow_id=None):
        return {"success": True, "workflow_id": "wf-1", "workspace_id": workspace_id, "plan_source": "explicit",
                "completed_tasks": [], "failed_tasks": [], "duration_s": 0.1}


@pytest.mark.parametrize(("flags", "workers", "said", "executed_by"), [
    ([], (_Jobs(_Job(RESULT)), "worker-0@h answered"), "on the workers (worker-0@h answered)", "workers"),
    ([], (None, "no worker answered a ping within 2 s"), "in this process (no worker answered", "in-process"),
    (["--in-process"], None, "in this process (--in-process)", "in-process"),
])
def test_a_workflow_runs_on_the_workers_when_one_answers_and_says_where(monkeypatch, capsys, flags, workers,
                                                                        said, executed_by):
    _Workflow.given.clear()
    monkeypatch.setattr(cli, "_workers", lambda settings: workers or pytest.fail("asked the workers"))
    monkeypatch.setattr(cli, "MultiAgentWorkflow", _Workflow)
    for name in ("SharedScratchpad", "RedisManager", "PostgresManager", "OrchestratorAgent", "create_llm_client"):
        monkeypatch.setattr(cli, name, lambda *args, **kwargs: None)
    assert cli.main(["workflow", "build a todo API", *flags]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"running {said}") and out.startswith(f"ran {said}")
    assert (_Workflow.given[0] is not None) == (executed_by == "workers")
    if workers and workers[0] is not None:
        assert workers[0].closed
    assert cli.main(["workflow", "build a todo API", "--json", *flags]) == 0
    assert json.loads(capsys.readouterr().out)["executed_by"] == executed_by


def test_jobs_lists_the_recent_jobs_as_a_table_or_json(monkeypatch, capsys):
    asked = []

    class Store:
        def __init__(self, postgres) -> None:
            pass

        def recent(self, limit):
            asked.append(limit)
            return [_Job(RESULT)]

    monkeypatch.setattr(cli, "JobStore", Store)
    monkeypatch.setattr(cli, "PostgresManager", lambda settings: None)
    assert cli.main(["jobs", "--limit", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 most recent job(s), newest first"
    assert "succeeded" in out[1] and "worker-0@host.abc" in out[1] and "demo: Write add(a, b)" in out[1]
    assert cli.main(["jobs", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["status"] == "succeeded" and listed["log_id"] == 7 and listed["attempts"] == 1
    assert asked == [5, 20]


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
def test_a_bad_jobs_limit_is_a_usage_error(capsys, limit):
    with pytest.raises(SystemExit) as exited:
        cli.main(["jobs", "--limit", limit])
    assert exited.value.code == 2 and "--limit" in capsys.readouterr().err
