"""`devmatrix generate` on the stack's real workers, and `devmatrix jobs` listing what it ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from _fixtures.waits import GENERATE_WAIT_S, generations_test_timeout
from devmatrix.config import Settings, env_file_path

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
CLI = str(Path(sys.executable).parent / "devmatrix")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=GENERATE_WAIT_S, check=False,
                          env={**os.environ, "DEVMATRIX_ENV_FILE": str(env_file_path())})


@pytest.fixture
def workspace_id(settings: Settings) -> Iterator[str]:
    name = f"test-jobs-cli-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["rm", "-rf", str(settings.workspace_dir / name)], check=False)


@pytest.mark.timeout(generations_test_timeout(2))  # two `devmatrix generate` on the workers
def test_generate_runs_on_a_worker_when_one_is_up_says_so_and_jobs_lists_it(workspace_id, real_postgres_manager):
    ran = _cli("generate", "Write a function add(a, b) that returns a + b", "--workspace", workspace_id,
               "--no-git", "--json")
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout)
    assert result["executed_by"] == "worker" and "@" in result["worker"], result
    (row,) = real_postgres_manager.execute("SELECT status, worker, request FROM jobs WHERE job_id = %s",
                                           (result["job_id"],))
    assert row["status"] == "succeeded" and row["worker"] == result["worker"]
    assert row["request"]["caller"] == "cli" and row["request"]["workspace_id"] == workspace_id
    assert result["log_id"] and result["generation_id"] == result["job_id"]

    text = _cli("generate", "Write a function add(a, b) that returns a + b", "--workspace", workspace_id, "--no-git")
    assert text.returncode == 0, text.stderr[-2000:]
    assert text.stdout.splitlines()[0].startswith("ran on worker ")

    listed = _cli("jobs", "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert result["job_id"] in [job["job_id"] for job in jobs]
    assert all(job["workspace_id"] == workspace_id for job in jobs[:2])
    real_postgres_manager.execute("DELETE FROM code_generation_logs WHERE workspace_id = %s", (workspace_id,))
