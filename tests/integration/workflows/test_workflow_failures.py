"""Seed §4.2's failure cases on real services: a failing branch, and Redis dying mid-run."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.errors import WorkflowError
from devmatrix.stack.system import free_port
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import SharedScratchpad
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

# A workflow is 3-4 generations, each up to a repair round, on a 135M model that sometimes
# rambles to max_tokens: 50-90 s measured on 2 cores. The suite's 120 s catches hangs; this
# allows the legitimate worst case.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.real_services, pytest.mark.timeout(300)]


class PrivateRedis:
    """A real redis-server of this test's own, so killing it disturbs nobody else."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (phase1 installs it)"
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def cleanup_workflows(real_postgres_manager) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for workflow_id in made:
        real_postgres_manager.execute("DELETE FROM workflows WHERE workflow_id = %s", (workflow_id,))


def test_a_failing_branch_is_reported_and_the_other_branch_finishes(
        settings, real_redis_manager, real_postgres_manager, real_anthropic_client,
        real_workspace_manager, cleanup_workflows):
    pad = SharedScratchpad(real_redis_manager, real_postgres_manager)
    flow = MultiAgentWorkflow(OrchestratorAgent(settings=settings, llm_client=real_anthropic_client),
                              pad, settings=settings, max_concurrency=2)
    # The good branch is one the pinned 135M model writes valid code for (its "slug generation"
    # degenerates into 512 tokens of repetition); the bad branch fails on its path, before any call.
    result = flow.execute("Create two independent utility functions: one for adding two numbers"
                          " and one for date formatting written to ../outside.py",
                          real_workspace_manager.workspace_id)
    cleanup_workflows.append(result["workflow_id"])
    pad.clear(result["workflow_id"])
    assert result["success"] is False
    assert [t["status"] for t in result["completed_tasks"]] == ["completed"]
    (failed,) = result["failed_tasks"]
    assert failed["status"] == "failed" and "../outside.py" in failed["error"]
    assert not (real_workspace_manager.root.parent / "outside.py").exists()


def test_redis_dying_mid_run_stops_cleanly_keeps_postgres_and_resumes(
        settings, private_redis, real_postgres_manager, real_anthropic_client,
        real_workspace_manager, cleanup_workflows):
    private = settings.model_copy(update={"redis_port": private_redis.port})
    manager = RedisManager(settings=private)
    pad = SharedScratchpad(manager, real_postgres_manager)
    events: list[tuple[str, str]] = []

    def on_event(event: str, task_id: str, _details: dict) -> None:
        events.append((event, task_id))
        if event == "completed":  # the first task is done and saved: now Redis dies
            private_redis.kill()

    flow = MultiAgentWorkflow(OrchestratorAgent(settings=settings, llm_client=real_anthropic_client),
                              pad, settings=settings, on_event=on_event)
    try:
        with pytest.raises(WorkflowError, match="finished tasks are saved") as caught:
            flow.execute("Write a slugify function, then tests for it",
                         real_workspace_manager.workspace_id)
        assert "--resume" in str(caught.value)
        (workflow_id,) = [t for e, t in events if e == "planned"]
        cleanup_workflows.append(workflow_id)
        saved = pad.completed_tasks(workflow_id)
        assert list(saved) == [next(t for e, t in events if e == "completed")]
        assert pad.load_workflow(workflow_id)["status"] == "interrupted"

        private_redis.start()  # same port, empty: the scratchpad is only live state
        flow.on_event = lambda *_: None
        resumed = flow.execute("", real_workspace_manager.workspace_id, workflow_id=workflow_id)
        assert resumed["resumed_tasks"] == list(saved)
        first = pad.completed_tasks(workflow_id)[resumed["resumed_tasks"][0]]
        assert first.finished_at == saved[first.task_id].finished_at  # not redone
    finally:
        manager.close()
