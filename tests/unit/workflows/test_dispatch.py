"""The scheduler with its tasks on the workers: what it sends, how many at once, what it does with
a failed or outaged node, and what a resume takes over. The workers and the `jobs` table are a
stand-in here (a job ends after a few reads of its row); the real ones are in
tests/integration/workflows/test_workflow_workers.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from devmatrix.config import Settings
from devmatrix.errors import ServiceError, WorkflowInterrupted
from devmatrix.jobs.outcome import error_of
from devmatrix.jobs.store import Job
from devmatrix.workflows import multi_agent
from devmatrix.workflows.dispatch import NODE_KIND, WorkerNodes
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

pytestmark = pytest.mark.unit

RESULT = {"workspace_id": "ws", "approval_min_score": 7.0, "success": True, "approval_status": "approved",
          "generated_code": "x = 1\n", "file_written": True, "file_path": "/w/x.py", "git_commit_hash": "c" * 40}


class Workers:
    """A JobClient whose jobs end after ``reads`` reads of their row: failed when their request has
    a marker of ``fails`` (the model's failure) or of ``outage`` (the LLM down), else succeeded."""

    def __init__(self, reads: int = 3, fails: tuple[str, ...] = (), outage: tuple[str, ...] = ()) -> None:
        self.reads, self.fails, self.outage = reads, fails, outage
        self.rows: dict[str, Job] = {}
        self.seen: dict[str, int] = {}
        self.sent: list[str] = []  # job ids, in the order sent
        self.peak = 0
        self.store = self
        self.broker_down = False

    def check_broker(self, queued):
        if self.broker_down:
            raise ServiceError("redis", f"job {queued[0]} is still queued and the broker does not answer a PING",
                               fix="`invoke infra.up -s redis`")

    def create(self, request, *, kind):
        assert kind == NODE_KIND and request["caller"] == "workflow"
        job_id = f"00000000-0000-0000-0000-{len(self.rows):012d}"
        now = datetime(2026, 12, 7, tzinfo=UTC)
        self.rows[job_id] = Job(job_id, kind, request, "queued", None, None, 0, 3, None, None, now, None, None)
        return self.rows[job_id]

    def send(self, job_id):
        self.sent.append(job_id)
        self.peak = max(self.peak, sum(not j.finished and j.job_id in self.sent for j in self.rows.values()))

    def get(self, job_id):
        job = self.rows.get(job_id)
        if job is None or job.finished:
            return job
        self.seen[job_id] = self.seen.get(job_id, 0) + 1
        if self.seen[job_id] >= self.reads:
            self.rows[job_id] = self._end(job)
        return self.rows[job_id]

    def _end(self, job: Job) -> Job:
        text = job.request["request"]
        ended = dataclasses.replace(job, worker="worker-1@test", attempts=1, started_at=job.created_at,
                                    finished_at=job.created_at)
        if any(marker in text for marker in self.outage):
            down = ServiceError("llm", "cannot reach the local backend", fix="`invoke infra.up -s llm`")
            return dataclasses.replace(ended, status="failed", error=error_of(down))
        if any(marker in text for marker in self.fails):
            return dataclasses.replace(ended, status="failed", result={**RESULT, "success": False,
                                                                       "error": "no code block"})
        return dataclasses.replace(ended, status="succeeded", result=RESULT)

    def requests(self) -> list[str]:
        return [self.rows[job_id].request["request"] for job_id in self.sent]


@pytest.fixture(autouse=True)
def _no_poll_wait(monkeypatch):
    monkeypatch.setattr(multi_agent, "WAIT_POLL_S", 0)


def _workflow(planner, pad, workers, **kwargs) -> MultiAgentWorkflow:
    settings = Settings()
    nodes = WorkerNodes(workers, pad, settings)  # type: ignore[arg-type]
    return MultiAgentWorkflow(planner, pad, settings=settings, nodes=nodes,  # type: ignore[arg-type]
                              agent=_NoAgent(), **kwargs)


class _NoAgent:
    def generate(self, *args, **kwargs):
        pytest.fail("a task ran in this process")


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_no_more_than_max_concurrency_nodes_are_on_the_workers_at_once(pad, fixed_planner, limit):
    planner = fixed_planner({f"t{i}": ("implementation", f"write function number {i}", []) for i in range(5)})
    workers = Workers()
    result = _workflow(planner, pad, workers, max_concurrency=limit).execute("r", "ws")
    assert result["success"] is True and len(workers.sent) == 5  # each node sent once
    assert workers.peak == limit


def test_each_node_is_a_job_sent_when_its_dependencies_are_done_and_its_row_names_job_and_worker(
        pad, fixed_planner):
    planner = fixed_planner({"impl": ("implementation", "write add IMPL_MARK", []),
                             "tests": ("test", "test add TESTS_MARK", ["impl"])})
    workers = Workers()
    result = _workflow(planner, pad, workers, max_concurrency=4).execute("r", "ws")
    assert [("IMPL_MARK" in r, "TESTS_MARK" in r) for r in workers.requests()] == [(True, False), (False, True)]
    assert "Code from the tasks this one depends on" in workers.requests()[1]  # the dependency's code
    rows = pad.tasks[result["workflow_id"]]
    assert {t: (r.status, r.job_id, r.worker) for t, r in rows.items()} == {
        "impl": ("completed", workers.sent[0], "worker-1@test"),
        "tests": ("completed", workers.sent[1], "worker-1@test")}
    assert [t["worker"] for t in result["completed_tasks"]] == ["worker-1@test"] * 2


def test_the_dependents_of_a_node_the_model_failed_are_skipped_and_never_sent(pad, fixed_planner):
    planner = fixed_planner({"impl": ("implementation", "write add BROKEN", []),
                             "tests": ("test", "test add TESTS_MARK", ["impl"]),
                             "other": ("implementation", "write slugify OTHER_MARK", [])})
    workers = Workers(fails=("BROKEN",))
    result = _workflow(planner, pad, workers).execute("r", "ws")
    statuses = {t["id"]: t["status"] for t in result["completed_tasks"] + result["failed_tasks"]}
    assert statuses == {"impl": "failed", "tests": "skipped", "other": "completed"}
    assert not any("TESTS_MARK" in r for r in workers.requests())


def test_a_node_that_failed_on_an_outage_interrupts_and_the_resume_sends_only_it_again(pad, fixed_planner):
    planner = fixed_planner({"ok": ("implementation", "write add OK_MARK", []),
                             "down": ("implementation", "write sub DOWN_MARK", [])})
    workers = Workers(outage=("DOWN_MARK",))
    with pytest.raises(WorkflowInterrupted) as interrupted:
        _workflow(planner, pad, workers, max_concurrency=1).execute("r", "ws")
    workflow_id = interrupted.value.workflow_id
    assert pad.workflows[workflow_id]["status"] == "interrupted"
    workers.outage = ()  # the LLM is back
    before = len(workers.sent)
    result = _workflow(planner, pad, workers).execute("", "ws", workflow_id=workflow_id)
    assert result["success"] is True
    assert [("DOWN_MARK" in r) for r in workers.requests()[before:]] == [True]


def test_a_resume_takes_over_the_nodes_sent_before_the_starter_died_and_sends_only_the_rest(pad, fixed_planner):
    planner = fixed_planner({"a": ("implementation", "write add A_MARK", []),
                             "b": ("implementation", "write sub B_MARK", []),
                             "c": ("test", "test both C_MARK", ["a", "b"])})
    workers = Workers(reads=2)
    first = _workflow(planner, pad, workers, max_concurrency=2)
    workflow_id, _ = first._plan("r", "ws", None)
    # the starter sends a and b, then dies: a ends on its worker meanwhile, b is still running
    job_a = first.nodes.send(workflow_id, "ws", "a", "implementation", "write add A_MARK")
    job_b = first.nodes.send(workflow_id, "ws", "b", "implementation", "write sub B_MARK")
    workers.rows[job_a] = workers._end(workers.rows[job_a])
    result = _workflow(planner, pad, workers).execute("", "ws", workflow_id=workflow_id)
    assert result["success"] is True
    assert workers.sent[:2] == [job_a, job_b] and len(workers.sent) == 3  # a and b never sent again
    assert "C_MARK" in workers.requests()[2]
    assert {t["id"]: t["job_id"] for t in result["completed_tasks"]} == {"a": job_a, "b": job_b,
                                                                       "c": workers.sent[2]}


def test_a_resume_sends_again_a_node_whose_job_failed(pad, fixed_planner):
    planner = fixed_planner({"a": ("implementation", "write add A_MARK", [])})
    workers = Workers()
    first = _workflow(planner, pad, workers)
    workflow_id, _ = first._plan("r", "ws", None)
    job_a = first.nodes.send(workflow_id, "ws", "a", "implementation", "write add A_MARK")
    workers.rows[job_a] = dataclasses.replace(workers.rows[job_a], status="cancelled")
    result = _workflow(planner, pad, workers).execute("", "ws", workflow_id=workflow_id)
    assert result["success"] is True and len(workers.sent) == 2
    assert result["completed_tasks"][0]["job_id"] == workers.sent[1] != job_a


def test_a_node_queued_on_a_broker_that_stopped_answering_interrupts_the_workflow_naming_redis(
        pad, fixed_planner):
    """Not a wait of NODE_WAIT_S in silence: the watch's clock runs on, the PING fails, and the
    workflow is interrupted (resumable) with the broker's error."""
    planner = fixed_planner({"a": ("implementation", "write add A_MARK", [])})
    workers = Workers(reads=10**6)  # never taken: the broker holds its message
    workers.broker_down = True
    ticks = iter(range(0, 10**6, 5))
    settings = Settings()
    nodes = WorkerNodes(workers, pad, settings, clock=lambda: float(next(ticks)))  # type: ignore[arg-type]
    workflow = MultiAgentWorkflow(planner, pad, settings=settings, nodes=nodes,  # type: ignore[arg-type]
                                  agent=_NoAgent())
    with pytest.raises(WorkflowInterrupted) as interrupted:
        workflow.execute("r", "ws")
    assert interrupted.value.service == "redis"
    assert "still queued" in interrupted.value.message
    assert pad.workflows[interrupted.value.workflow_id]["status"] == "interrupted"
    assert len(workers.sent) == 1
