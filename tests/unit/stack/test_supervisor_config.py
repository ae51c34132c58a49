"""The supervisord config we render: what each program runs as and how it is kept alive."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

from devmatrix.config import Settings
from devmatrix.errors import InstallError
from devmatrix.stack import _programs
from devmatrix.stack._supervisor import Program, Supervisor
from devmatrix.stack.catalog import chroma_server_command, native_services

pytestmark = pytest.mark.unit


def render(tmp_path: Path, programs: list[Program], *, root: bool = True) -> configparser.RawConfigParser:
    supervisor = Supervisor(tmp_path / "state")
    supervisor.write_config(programs, run_as_root=root)
    parser = configparser.RawConfigParser()
    parser.read(supervisor.config_file)
    return parser


def test_each_service_binds_loopback_and_postgres_runs_unprivileged(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local")
    catalog = native_services(settings, env_file=tmp_path / ".env.test", user=settings.postgres_system_user)
    parser = render(tmp_path, [s.program for s in catalog.values()])
    postgres = parser["program:postgres"]
    assert postgres["user"] == "devmatrix-pg"
    assert "-h 127.0.0.1 -p 5432" in postgres["command"]
    assert postgres["stopsignal"] == "INT"
    assert "--bind 127.0.0.1 --port 6379" in parser["program:redis"]["command"]
    assert "--host 127.0.0.1 --port 8001" in parser["program:chroma"]["command"]
    for name in catalog:
        section = parser[f"program:{name}"]
        assert section["autorestart"] == "true"  # supervised: a crash is restarted
        assert section["autostart"] == "false"  # started by name, never all at once by surprise
        assert section["stdout_logfile"].startswith(str((tmp_path / "state" / "logs").resolve()))


def test_arguments_with_spaces_survive_quoting(tmp_path):
    program = Program("x", ["/bin/echo", "two words", "it's", ""], directory=tmp_path,
                      log_file=tmp_path / "x.log", environment={"A": "1 2"})
    section = render(tmp_path, [program])["program:x"]
    assert section["command"] == "/bin/echo 'two words' 'it'\"'\"'s' ''"
    assert section["environment"] == 'A="1 2"'


def test_rewriting_the_same_config_reports_no_change(tmp_path):
    supervisor = Supervisor(tmp_path / "state")
    program = Program("x", ["/bin/true"], directory=tmp_path, log_file=tmp_path / "x.log")
    assert supervisor.write_config([program], run_as_root=False) is True
    assert supervisor.write_config([program], run_as_root=False) is False


def test_deep_state_dir_gets_a_short_socket_path(tmp_path):
    deep = tmp_path.joinpath(*["d" * 20] * 6)
    assert len(str(Supervisor(deep).socket)) < 108


def test_the_workers_are_one_program_of_worker_count_processes_each_naming_its_stack(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local", worker_count=3)
    catalog = native_services(settings, env_file=tmp_path / ".env.test", user=None)
    worker = render(tmp_path, [s.program for s in catalog.values()])["program:worker"]
    assert worker["numprocs"] == "3"
    assert worker["process_name"] == "%%(program_name)s-%%(process_num)d" or \
        worker["process_name"] == "%(program_name)s-%(process_num)d"
    # its command names the state dir: `infra.down` finds a worker whose supervisord died
    assert f"-m devmatrix.jobs.worker --stack {(tmp_path / 'state').resolve()}" in worker["command"]
    labels = catalog["worker"].program.labels
    assert labels("worker-1")["node"].startswith("worker-1@") and labels("worker-1") != labels("worker-2")
    # a program of one process has no process_name: its process is the program's name
    assert "numprocs" not in render(tmp_path, [catalog["api"].program])["program:api"]


def test_redis_runs_as_a_queue_aof_every_second_and_noeviction(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path / "state")
    catalog = native_services(settings, env_file=tmp_path / ".env.test", user=None)
    command = render(tmp_path, [catalog["redis"].program])["program:redis"]["command"]
    assert "--appendonly yes --appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command


def test_chroma_runs_the_rust_server_without_importing_the_chromadb_package(tmp_path):
    # the chroma entry point imports all of chromadb (1.4 CPU-s) before it hands over to the Rust
    # CLI; every stack start pays it on a 2-core machine where all services start at once
    command = chroma_server_command("127.0.0.1", 8001, tmp_path / "data")
    assert command[-6:] == ["--host", "127.0.0.1", "--port", "8001", "--path", str(tmp_path / "data")]
    interpreter, *rest = command
    helped = subprocess.run([interpreter, "-X", "importtime", *rest[:2], "run", "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0 and "Start a local Chroma server" in helped.stdout, helped.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in helped.stderr.splitlines()
                if line.startswith("import time:")}
    assert "chromadb_rust_bindings" in imported and "chromadb" not in imported


def test_chroma_missing_from_the_environment_is_an_install_error_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(_programs.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InstallError) as caught:
        chroma_server_command("127.0.0.1", 8001, tmp_path / "data")
    assert "chromadb" in caught.value.message and caught.value.fix.startswith("pip install -e .")
