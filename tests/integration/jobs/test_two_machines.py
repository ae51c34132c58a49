"""Two machines: a second checkout runs only workers, joined to this stack through the external provider.

Machine A is the stack under test. Machine B is a second checkout of this tree (a copy of its
tracked files as the working tree has them) with a state dir and a settings file of its own:
DEVMATRIX_PROVIDER=external, every service address A's, WORKER_COUNT=1, WORKSPACE_DIR A's (the
shared mount README "Scaling out" asks for). B's `invoke infra.up` checks A's servers and starts
B's worker under B's supervisor; B's `invoke validate` checks B's own worker and reaches A's
stores. With A's own workers stopped, a job posted to A's API runs on B's node, and its commit
and log row land on A. B's `invoke infra.down` then leaves nothing of B running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git
import psutil
import pytest
import requests

from devmatrix.config import Settings, env_file_path
from devmatrix.jobs.service import own_nodes
from devmatrix.stack.providers import get_provider
from devmatrix.state.postgres import PostgresManager

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
ROOT = Path(__file__).resolve().parents[3]
INVOKE = str(Path(sys.executable).parent / "invoke")
FINISH_S = 150.0
COMMAND_S = 120


@dataclass
class MachineB:
    checkout: Path
    env_file: Path
    state: Path
    settings: Settings

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        """`invoke ARGS` in B's checkout, with B's settings and B's code (its src/ first on the path)."""
        env = {key: value for key, value in os.environ.items() if key.lower() not in Settings.model_fields}
        env |= {"DEVMATRIX_ENV_FILE": str(self.env_file), "PYTHONPATH": str(self.checkout / "src"),
                "LLM_CACHE_ENABLED": "false", "APPROVAL_MIN_SCORE": os.environ.get("APPROVAL_MIN_SCORE", "0")}
        return subprocess.run([INVOKE, *args], cwd=self.checkout, env=env, capture_output=True, text=True,
                              timeout=COMMAND_S, check=False)

    def processes(self) -> list[str]:
        """Every live process that names B's checkout on its command line or runs in it."""
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
            line = " ".join(process.info["cmdline"] or [])
            if str(self.checkout) in line or str(self.checkout) in (process.info["cwd"] or ""):
                found.append(f"{process.info['pid']}: {line[:200]}")
        return found


def _settings_file(source: Path, overrides: dict[str, str]) -> str:
    """``source``'s lines with ``overrides`` replacing (or added to) their keys."""
    lines, seen = [], set()
    for line in source.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in overrides:
            line, _ = f"{key}={overrides[key]}", seen.add(key)
        lines.append(line)
    return "\n".join(lines + [f"{k}={v}" for k, v in overrides.items() if k not in seen]) + "\n"


def _copy_tracked_files(dest: Path) -> None:
    """Machine B's checkout: the tracked files as this working tree has them (edits included).
    A copy, never `git stash create` + `git worktree add`: those write to the project's repository,
    and the stash failed in CI (exit 1) while another lane's git held the index."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is deleted on B too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@pytest.fixture
def machine_b(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MachineB]:
    checkout = tmp_path_factory.mktemp("machine-b") / "devmatrix"
    _copy_tracked_files(checkout)
    state = checkout / ".devmatrix" / "machine-b"
    state.mkdir(parents=True, mode=0o700)
    env_file = state / "settings.env"
    env_file.write_text(_settings_file(env_file_path(), {
        "DEVMATRIX_PROVIDER": "external", "DEVMATRIX_STATE_DIR": str(state), "WORKER_COUNT": "1",
        # the hosts and ports are A's already (the same file); the workspaces are A's shared mount
        "WORKSPACE_DIR": str(settings.workspace_dir.resolve()), "RAG_CACHE_DIR": str(checkout / ".cache" / "rag"),
        "BACKUP_DIR": str(state / "backups"), "LOG_FILE": "",
    }))
    env_file.chmod(0o600)
    b = MachineB(checkout, env_file, state,
                 settings.model_copy(update={"devmatrix_state_dir": state, "worker_count": 1}))
    try:
        yield b
    finally:
        b.invoke("infra.down")
        shutil.rmtree(checkout, ignore_errors=True)


@pytest.fixture
def a_without_workers(settings: Settings) -> Iterator[None]:
    """A's own workers stopped, so only B's can take A's jobs; started again after."""
    provider = get_provider(settings, env_file=env_file_path())
    provider.down(("worker",))
    try:
        yield
    finally:
        provider.up(("worker",))


@pytest.mark.timeout(420)
def test_a_second_machine_runs_only_workers_and_takes_the_first_machines_jobs(
        machine_b: MachineB, a_without_workers: None, settings: Settings,
        real_postgres_manager: PostgresManager) -> None:
    (b_node,) = own_nodes(machine_b.settings)
    assert b_node not in own_nodes(settings)  # distinct from A's nodes

    up = machine_b.invoke("infra.up")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    record = json.loads((machine_b.state / "services.json").read_text())
    assert record["provider"] == "external"
    worker = record["services"]["worker"]
    assert worker["pid"] and [p["node"] for p in worker["processes"]] == [b_node], worker
    # B started nothing but its worker: A's servers were only checked
    assert {name for name, s in record["services"].items() if s["pid"]} == {"worker"}, record

    checked = machine_b.invoke("validate", "--json")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    report = {c["name"]: c for c in json.loads(checked.stdout)["checks"]}
    assert report["worker"]["status"] == "PASS" and b_node in report["worker"]["detail"], report["worker"]
    assert settings.api_url in report["api"]["detail"] and report["postgres"]["status"] == "PASS"

    workspace_id = f"test-two-machines-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    job_id = None
    try:
        posted = requests.post(f"{settings.api_url}/api/v1/jobs", headers=headers, timeout=30,
                               json={"request": "Write a function add(a, b) that returns a + b",
                                     "workspace_id": workspace_id, "use_cache": False, "min_score": 0.0})
        assert posted.status_code == 202, posted.text
        job_id = posted.json()["job_id"]
        deadline = time.monotonic() + FINISH_S
        while True:
            job = requests.get(f"{settings.api_url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert job["status"] == "succeeded" and job["worker"] == b_node, job
        commit = job["result"]["git_commit_hash"]
        repo = git.Repo(settings.workspace_dir / workspace_id)  # A's workspace
        assert f"Generation-Id: {job_id}" in repo.commit(commit).message
        rows = real_postgres_manager.execute(  # A's Postgres
            "SELECT count(*) AS n FROM code_generation_logs WHERE generation_id = %s", (job_id,))
        assert rows[0]["n"] == 1 and job["result"]["log_id"]
    finally:
        if job_id:  # not left queued for A's workers once they are back (a no-op once it finished)
            requests.delete(f"{settings.api_url}/api/v1/jobs/{job_id}", headers=headers, timeout=30)
        real_postgres_manager.execute("DELETE FROM code_generation_logs WHERE workspace_id = %s", (workspace_id,))
        subprocess.run(["rm", "-rf", str(settings.workspace_dir / workspace_id)], check=False)

    down = machine_b.invoke("infra.down")
    assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
    assert machine_b.processes() == []
