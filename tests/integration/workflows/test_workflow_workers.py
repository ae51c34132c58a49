"""`devmatrix workflow` on the stack's real workers: each node a job, max_concurrency held, and a
workflow that outlives the process that started it (killed; `--resume` finishes it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devmatrix.config import env_file_path

# two generations on the 135M model, one after the other: 20-60 s on 2 cores
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.real_services, pytest.mark.timeout(300)]
DEVMATRIX = str(Path(sys.executable).parent / "devmatrix")
TWO_PARTS = "Write two Python functions: one to add two numbers and one to subtract two numbers"
TWO_STEPS = "Write a function add(a, b) that returns the sum, then write a function double(x) that returns add(x, x)"


@pytest.fixture
def run(settings, tmp_path, real_postgres_manager):
    """`devmatrix workflow …` with a workspace dir of the test's own; its workflows deleted after."""
    env = {**os.environ, "DEVMATRIX_ENV_FILE": str(env_file_path()), "WORKSPACE_DIR": str(tmp_path / "ws")}
    made: list[str] = []

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen([DEVMATRIX, "workflow", *args, "--json", "--min-score",
                                 str(settings.approval_min_score)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def finish(proc: subprocess.Popen) -> dict:
        out, err = proc.communicate(timeout=200)
        assert out.strip(), err[-2000:]
        result = json.loads(out)
        made.append(result["workflow_id"])
        return result

    yield start, finish, made, tmp_path / "ws"
    for workflow_id in made:
        real_postgres_manager.execute("DELETE FROM jobs WHERE request->>'workflow_id' = %s", (workflow_id,))
        real_postgres_manager.execute("DELETE FROM workflows WHERE workflow_id = %s", (workflow_id,))


def _jobs(postgres, workflow_id: str) -> list[dict]:
    return postgres.execute("SELECT job_id::text, request->>'task_id' AS task_id, status, worker, started_at,"
                            " finished_at FROM jobs WHERE request->>'workflow_id' = %s ORDER BY created_at",
                            (workflow_id,))


def test_the_nodes_run_as_jobs_on_the_workers_and_max_concurrency_holds(run, real_postgres_manager):
    start, finish, _, _ = run
    result = finish(start(TWO_PARTS, "--workspace", f"wfw-{os.getpid()}", "--concurrency", "1"))
    assert result["executed_by"] == "workers", result
    tasks = result["completed_tasks"] + result["failed_tasks"]
    assert len(tasks) == 2 and all(t["status"] in ("completed", "failed") for t in tasks), tasks
    jobs = _jobs(real_postgres_manager, result["workflow_id"])
    assert len(jobs) == 2 and all(j["status"] in ("succeeded", "failed") for j in jobs), jobs
    rows = real_postgres_manager.execute("SELECT task_id, job_id::text, worker FROM workflow_tasks"
                                         " WHERE workflow_id = %s", (result["workflow_id"],))
    # each task's row names its job (the Celery task id) and the worker node that ran it
    assert {r["task_id"]: (r["job_id"], r["worker"]) for r in rows} == {
        j["task_id"]: (j["job_id"], j["worker"]) for j in jobs}
    assert all("@" in j["worker"] for j in jobs)
    first, second = jobs  # --concurrency 1: the second was sent once the first had ended
    assert first["finished_at"] <= second["started_at"], jobs


def test_a_workflow_outlives_its_killed_starter_and_resume_finishes_it_without_redoing(
        run, real_postgres_manager):
    start, finish, made, root = run
    workspace = f"wfw-kill-{os.getpid()}"
    proc = start(TWO_STEPS, "--workspace", workspace)
    postgres = real_postgres_manager
    try:  # kill the starter as soon as its first node runs on a worker
        running, deadline = None, time.monotonic() + 90
        while running is None and time.monotonic() < deadline and proc.poll() is None:
            rows = postgres.execute("SELECT j.job_id::text, j.request->>'workflow_id' AS workflow_id FROM jobs j"
                                    " WHERE j.request->>'workspace_id' = %s AND j.status = 'running'", (workspace,))
            running = rows[0] if rows else None
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate()
    assert running is not None, f"no node ran on a worker within 90 s: {stderr[-2000:]}"
    workflow_id = running["workflow_id"]
    made.append(workflow_id)
    # the node sent before the kill finishes on its worker, with nobody waiting for it
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        (job,) = [j for j in _jobs(postgres, workflow_id) if j["job_id"] == running["job_id"]]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    assert len(_jobs(postgres, workflow_id)) == 1  # the starter died before it sent the second

    result = finish(start("--resume", workflow_id))
    assert result["success"] is True and result["executed_by"] == "workers", result
    tasks = result["completed_tasks"]
    assert [t["id"] for t in tasks] == ["t1_write_a_function_add", "t2_write_a_function_double"]
    assert tasks[0]["job_id"] == running["job_id"]  # taken over, not run again
    jobs = _jobs(postgres, workflow_id)
    assert len(jobs) == 2 and [j["job_id"] for j in jobs] == [t["job_id"] for t in tasks]
    log = subprocess.run(["git", "log", "--format=%H"], cwd=root / workspace, check=True, capture_output=True,
                         text=True).stdout.split()
    assert log[:2] == [tasks[1]["commit"], tasks[0]["commit"]]  # one commit per node
    assert tasks[0]["commit"] not in log[2:]
