"""Jobs on real Celery workers (the stack's supervised worker processes, or a test's own: never eager mode).

A job end to end; a pool process killed with SIGKILL mid-job (the job finishes elsewhere:
one commit, one row, attempts 2, within KILL_BOUND_S); a message delivered again after its
job's effects happened (none happens twice, no reply is paid twice); a delivery past the
attempt bound (failed, not run); a frozen worker (SIGSTOP: its job is taken over after the
visibility timeout); Redis restarted with jobs queued and no worker up (none is lost); a failed
generation counted failed by Flower, its message acknowledged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import git
import psutil
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.workers import WorkerProcess, worker_process
from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.jobs._constants import TASK_NAME
from devmatrix.jobs.app import broker_url
from devmatrix.jobs.submit import JobClient
from devmatrix.stack._supervisor import Supervisor
from devmatrix.stack.system import free_port
from devmatrix.state.postgres import PostgresManager

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
REQUEST = "Write a function add(a, b) that returns a + b"
# kill -9 of the pool process running a job -> finished by another: the pool replaces the dead
# process at once, the message comes back (reject_on_worker_lost) and runs again (~3-10 s on
# the local model). README "Scaling out" states this bound.
KILL_BOUND_S = 60.0
FINISH_S = 120.0
# The frozen-worker test's own workers hand an unacknowledged message to another after this
# (the stack's: 270 s, above the hard time limit); kombu sweeps for such messages every 10 s.
TEST_VISIBILITY_S = 8
FROZEN_BOUND_S = 50.0


@pytest.fixture
def jobs(settings: Settings, real_postgres_manager: PostgresManager) -> Iterator[JobClient]:
    client = JobClient(settings, real_postgres_manager)
    if not client.workers(timeout_s=2.0):
        pytest.fail("no worker answers: `invoke infra.up -s worker` (phase1 starts them)")
    yield client
    client.close()


@pytest.fixture
def workspace_id(settings: Settings) -> Iterator[str]:
    name = f"test-jobs-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["rm", "-rf", str(settings.workspace_dir / name)], check=False)


def _commits_with_trailer(settings: Settings, workspace_id: str, job_id: str) -> int:
    repo = git.Repo(settings.workspace_dir / workspace_id)
    return sum(f"Generation-Id: {job_id}" in c.message for c in repo.iter_commits())


def _rows(postgres: PostgresManager, job_id: str) -> int:
    return postgres.execute("SELECT count(*) AS n FROM code_generation_logs WHERE generation_id = %s",
                            (job_id,))[0]["n"]


def _body(workspace_id: str) -> dict:
    return {"request": REQUEST, "workspace_id": workspace_id, "use_cache": False}


def test_a_job_runs_on_a_worker_and_commits_once_with_its_generation_id(jobs, settings, real_postgres_manager,
                                                                          workspace_id):
    job = jobs.wait(jobs.submit(_body(workspace_id)).job_id, FINISH_S)
    assert job.status == "succeeded", job.error
    assert job.worker and "@" in job.worker and job.attempts == 1
    assert job.result["log_id"] and job.result["git_commit_hash"]
    assert _commits_with_trailer(settings, workspace_id, job.job_id) == 1
    assert _rows(real_postgres_manager, job.job_id) == 1


def test_a_killed_worker_process_loses_no_job_and_its_effects_happen_once(jobs, settings, real_postgres_manager,
                                                                          workspace_id):
    job_id = jobs.submit(_body(workspace_id)).job_id
    deadline = time.monotonic() + FINISH_S
    while (job := jobs.store.get(job_id)).status == "queued":
        assert time.monotonic() < deadline, "no worker took the job"
        time.sleep(0.05)
    assert job.status == "running" and job.worker_pid
    time.sleep(0.5)  # inside the generation (an LLM call takes seconds)
    os.kill(job.worker_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    job = jobs.wait(job_id, KILL_BOUND_S)
    took = time.monotonic() - killed_at
    assert job.status == "succeeded", (job.status, job.error)
    assert took < KILL_BOUND_S
    assert job.attempts == 2 and job.worker_pid != 0
    assert _commits_with_trailer(settings, workspace_id, job_id) == 1
    assert _rows(real_postgres_manager, job_id) == 1
    print(f"kill -9 -> finished by {job.worker} (pid {job.worker_pid}) {took:.1f} s later", file=sys.stderr)


def _deliver_again(jobs: JobClient, job_id: str) -> None:
    """The job's message once more, as Redis hands it back when its worker died: same id, same body."""
    jobs.app.send_task(TASK_NAME, args=[job_id], task_id=job_id, queue=jobs.settings.worker_queue)


def _replies(postgres: PostgresManager, job_id: str) -> int:
    return postgres.execute("SELECT count(*) AS n FROM job_llm_replies WHERE job_id = %s", (job_id,))[0]["n"]


def test_a_job_delivered_again_after_its_effects_happened_repeats_none_and_pays_no_reply_twice(
        jobs, settings, real_postgres_manager, workspace_id):
    first = jobs.wait(jobs.submit(_body(workspace_id)).job_id, FINISH_S)
    assert first.status == "succeeded", first.error
    paid = _replies(real_postgres_manager, first.job_id)
    assert paid >= 1 and first.result["llm_replies_reused"] == 0
    # its worker died after committing and logging, before it marked the job finished: the
    # message comes back to a worker with the job still `running`
    real_postgres_manager.execute("UPDATE jobs SET status = 'running', finished_at = NULL WHERE job_id = %s",
                                  (first.job_id,))
    _deliver_again(jobs, first.job_id)
    again = jobs.wait(first.job_id, FINISH_S)
    assert again.status == "succeeded" and again.attempts == 2, (again.status, again.error)
    assert again.result["llm_replies_reused"] == paid  # every call served from job_llm_replies, none sent
    assert _replies(real_postgres_manager, first.job_id) == paid
    assert _commits_with_trailer(settings, workspace_id, first.job_id) == 1  # found by its trailer
    assert again.result["git_commit_hash"] == first.result["git_commit_hash"]
    assert _rows(real_postgres_manager, first.job_id) == 1  # the insert met its own row
    assert real_postgres_manager.execute("SELECT count(*) AS n FROM code_generation_logs WHERE workspace_id = %s",
                                         (workspace_id,))[0]["n"] == 1  # and wrote no second one
    assert again.result["log_id"] == first.result["log_id"] and again.result.get("logging_error") is None


def test_a_delivery_past_the_attempt_bound_fails_the_job_and_runs_nothing(jobs, settings, real_postgres_manager,
                                                                         workspace_id):
    job = jobs.store.create(_body(workspace_id))  # its row only: the message is sent below
    real_postgres_manager.execute("UPDATE jobs SET status = 'running', attempts = max_attempts WHERE job_id = %s",
                                  (job.job_id,))
    _deliver_again(jobs, job.job_id)  # its workers died max_attempts times: this delivery is one too many
    ended = jobs.wait(job.job_id, FINISH_S)
    assert ended.status == "failed" and ended.attempts == ended.max_attempts, (ended.status, ended.error)
    assert ended.error["type"] == "AttemptsExhausted" and "max_attempts" in ended.error["message"]
    assert _replies(real_postgres_manager, job.job_id) == 0 and _rows(real_postgres_manager, job.job_id) == 0
    assert not (settings.workspace_dir / workspace_id).exists()


@pytest.fixture
def own_workers(settings: Settings, real_postgres_manager: PostgresManager,
                tmp_path) -> Iterator[tuple[JobClient, list[WorkerProcess]]]:
    """Two workers of this test's own, on a queue of their own, with a short visibility timeout."""
    overrides = {"worker_queue": f"t{uuid.uuid4().hex[:10]}"}
    with ExitStack() as stack:
        workers = [stack.enter_context(worker_process(
            settings, overrides, tmp_path / f"worker-{n}.log", name=f"test-{n}-{overrides['worker_queue']}",
            args=("--visibility-timeout", str(TEST_VISIBILITY_S)))) for n in range(2)]
        client = JobClient(settings.model_copy(update=overrides), real_postgres_manager)
        stack.callback(client.close)
        deadline = time.monotonic() + 60
        while missing := {w.node for w in workers} - set(client.workers(timeout_s=1.0, limit=None)):
            assert time.monotonic() < deadline, f"{missing} did not answer a ping within 60 s"
        yield client, workers


@pytest.mark.timeout(180)
def test_a_frozen_workers_job_is_taken_over_after_the_visibility_timeout_and_happens_once(
        own_workers, settings, real_postgres_manager, workspace_id):
    jobs, workers = own_workers
    job_id = jobs.submit(_body(workspace_id)).job_id
    deadline = time.monotonic() + FINISH_S
    while (job := jobs.store.get(job_id)).status == "queued":
        assert time.monotonic() < deadline, "no worker took the job"
        time.sleep(0.05)
    (frozen,) = [w for w in workers if w.node == job.worker]
    frozen.signal(signal.SIGSTOP)  # the node and its pool: alive, silent, its message unacknowledged
    frozen_at = time.monotonic()
    job = jobs.wait(job_id, FROZEN_BOUND_S)
    took = time.monotonic() - frozen_at
    assert job.status == "succeeded", (job.status, job.error, f"{took:.1f} s")
    assert job.worker != frozen.node and job.attempts == 2
    assert TEST_VISIBILITY_S - 1 < took < FROZEN_BOUND_S  # taken over once the timeout ran out, not before
    print(f"SIGSTOP -> taken over by {job.worker} {took:.1f} s later", file=sys.stderr)
    frozen.signal(signal.SIGCONT)  # it wakes up and ends its own run: its effects find the other's
    deadline = time.monotonic() + FINISH_S
    while frozen.log.read_text().count("job_finished") < 1:
        assert time.monotonic() < deadline, "the woken worker did not end its run"
        time.sleep(0.2)
    assert _commits_with_trailer(settings, workspace_id, job_id) == 1
    assert _rows(real_postgres_manager, job_id) == 1
    assert jobs.store.get(job_id).status == "succeeded"


def _invoke(*args: str) -> None:
    invoke = os.path.join(os.path.dirname(sys.executable), "invoke")
    subprocess.run([invoke, *args], check=True, capture_output=True, timeout=180)


@pytest.mark.timeout(400)
def test_jobs_queued_while_no_worker_runs_survive_a_kill_of_redis(jobs, settings, workspace_id):
    _invoke("infra.down", "-s", "worker")
    try:
        queued = [jobs.submit(_body(workspace_id)).job_id for _ in range(3)]
        redis = psutil.Process(Supervisor(settings.devmatrix_state_dir).info()["redis"]["pid"])
        redis.kill()  # SIGKILL: no save on the way down; the AOF holds the queue
        redis.wait(10)
        deadline = time.monotonic() + 30
        while True:  # supervisord restarts it
            try:
                readiness.redis_ping(settings)
                break
            except ServiceError:
                assert time.monotonic() < deadline, "redis did not come back"
                time.sleep(0.2)
    finally:
        _invoke("infra.up", "-s", "worker")
    finished = [jobs.wait(job_id, FINISH_S) for job_id in queued]
    assert [job.status for job in finished] == ["succeeded"] * 3, [job.error for job in finished]


@pytest.mark.timeout(180)
def test_a_store_down_while_a_worker_builds_its_clients_fails_the_job_and_never_strands_it(
        settings, real_postgres_manager, tmp_path, workspace_id):
    # a worker of this test's own whose Chroma is a port nothing listens on: the job asks for RAG,
    # so building its retriever fails before any generation; the job must end, naming chroma
    overrides = {"worker_queue": f"t{uuid.uuid4().hex[:10]}", "chromadb_port": free_port()}
    with worker_process(settings, overrides, tmp_path / "worker.log", name=f"test-{overrides['worker_queue']}") as w:
        client = JobClient(settings.model_copy(update=overrides), real_postgres_manager)
        try:
            deadline = time.monotonic() + 60
            while w.node not in client.workers(timeout_s=1.0, limit=None):
                assert time.monotonic() < deadline, f"{w.node} did not answer a ping within 60 s"
            job = client.wait(client.submit({**_body(workspace_id), "enable_rag": True}).job_id, FINISH_S)
        finally:
            client.close()
    assert job.status == "failed", (job.status, job.error)
    assert job.error["service"] == "chroma" and str(overrides["chromadb_port"]) in job.error["message"]
    assert job.attempts == 1 and job.result is None


# refused by the agent before any LLM call (a path outside the workspace): a generation that fails, fast
FAILING_REQUEST = "Write fibonacci and save it to ../../outside.py"


def _flower_task_events(settings: Settings, worker: str) -> dict[str, float]:
    """Flower's count of the generate task's events on ``worker``, by type (task-succeeded, task-failed, …)."""
    text = requests.get(f"{settings.flower_url}/metrics", timeout=5).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "flower_events_total" and sample.labels.get("task") == TASK_NAME \
                    and sample.labels.get("worker") == worker:
                counts[sample.labels["type"]] = counts.get(sample.labels["type"], 0.0) + sample.value
    return counts


def _unacked(settings: Settings, job_id: str) -> bool:
    """Whether the broker still holds ``job_id``'s message unacknowledged (it would come back)."""
    with redis.Redis.from_url(broker_url(settings)) as broker:
        held = broker.hvals(f"unacked:{settings.worker_queue}")
    return any(job_id.encode() in message for message in held)


@pytest.mark.timeout(240)
def test_a_failed_generation_is_a_failed_task_for_flower_acknowledged_and_run_once(
        monitoring_stack, jobs, settings, workspace_id):
    """A generation that ended badly is stored failed, then ends its Celery task in FAILURE: Flower counts
    task-failed (JobFailureRatioHigh's numerator), not task-succeeded. The message is acknowledged (never
    delivered again) and the job keeps status failed and attempts 1, as GET /api/v1/jobs/ID shows."""
    nodes = jobs.workers(timeout_s=2.0, limit=None)
    before = {node: _flower_task_events(settings, node) for node in nodes}
    job = jobs.wait(jobs.submit({"request": FAILING_REQUEST, "workspace_id": workspace_id}).job_id, FINISH_S)
    assert job.status == "failed" and job.attempts == 1, (job.status, job.attempts, job.error)
    was = before.get(job.worker, {})
    deadline = time.monotonic() + 30  # Flower reads the worker's events as they are sent
    while True:
        now = _flower_task_events(settings, job.worker)
        if now.get("task-failed", 0.0) > was.get("task-failed", 0.0) and not _unacked(settings, job.job_id):
            break
        assert time.monotonic() < deadline, f"Flower did not count {job.job_id} failed within 30 s: {was} → {now}"
        time.sleep(0.5)
    assert now.get("task-failed", 0.0) == was.get("task-failed", 0.0) + 1
    assert now.get("task-succeeded", 0.0) == was.get("task-succeeded", 0.0), (was, now)
    served = requests.get(f"http://{settings.api_host}:{settings.api_port}/api/v1/jobs/{job.job_id}", timeout=10,
                          headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"})
    assert served.status_code == 200, served.text
    assert (served.json()["status"], served.json()["attempts"]) == ("failed", 1)
    assert jobs.store.get(job.job_id).attempts == 1  # run once: not retried, not delivered again
    # an expected end (the task's throws): one INFO line in the worker log, no ERROR with a traceback
    logged = [line for line in (Supervisor(settings.devmatrix_state_dir).log_dir / "worker.log").read_text(
        errors="replace").splitlines() if f"{TASK_NAME}[{job.job_id}]" in line and " raised " in line]
    assert len(logged) == 1 and "INFO" in logged[0] and "raised expected: JobFailed" in logged[0], logged
