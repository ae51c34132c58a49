"""The supervisor's death and a crash are healed by one `invoke infra.up`; down/up never trip on our own processes.

These tests kill servers, so they run on this module's own stack (own state dir
under `.devmatrix/test-heal/`, free ports, all six core services), driven by
`invoke` subprocesses as a user would; the session's stack is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from devmatrix.backup.chroma import ChromaHTTP
from devmatrix.config import Settings, load_settings
from devmatrix.jobs.service import stack_tag
from devmatrix.stack import system
from devmatrix.stack.system import free_ports
from devmatrix.state.postgres import PostgresManager

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

INVOKE = str(Path(sys.executable).parent / "invoke")
PORTS = ("postgres_port", "redis_port", "chromadb_port", "llm_port", "api_port",
         "prometheus_port", "postgres_exporter_port", "redis_exporter_port", "grafana_port")
SERVERS = ("postgres", "redis", "chroma", "llm", "api", "worker")
PORTED = SERVERS[:5]  # the workers listen on no port
COLLECTION = "heal_records"


@dataclass
class HealStack:
    root: Path
    env_file: Path
    settings: Settings

    def invoke(self, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env["DEVMATRIX_ENV_FILE"] = str(self.env_file)
        return subprocess.run([INVOKE, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=env, check=False)

    def up(self) -> subprocess.CompletedProcess:
        result = self.invoke("infra.up")
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def assert_healthy(self) -> None:
        result = self.invoke("infra.status", "--json")
        states = {s["name"]: s for s in json.loads(result.stdout)}
        assert result.returncode == 0 and set(states) == set(SERVERS), result.stdout + result.stderr
        assert all(s["healthy"] for s in states.values()), states

    def supervisord_pid(self) -> int:
        return int((self.settings.devmatrix_state_dir / "supervisor" / "supervisord.pid").read_text())

    def server_pids(self) -> dict[str, int]:
        record = json.loads(self.settings.services_file.read_text())["services"]
        return {name: record[name]["pid"] for name in SERVERS}

    def ports(self) -> dict[str, int]:
        return {name: getattr(self.settings, setting) for name, setting in
                zip(PORTED, ("postgres_port", "redis_port", "chromadb_port", "llm_port", "api_port"), strict=True)}

    def server_processes(self) -> set[int]:
        """Every live process of the recorded servers: each one's tree, and each worker's (its pool)."""
        record = json.loads(self.settings.services_file.read_text())["services"]
        tops = {record[name]["pid"] for name in SERVERS}
        tops |= {p["pid"] for p in record["worker"]["processes"] if p["pid"]}
        found = set()
        for pid in tops:
            with contextlib.suppress(psutil.NoSuchProcess):
                found |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        return found

    def leftovers(self) -> dict[int, str]:
        """Live processes that mention this stack's folder anywhere (command, cwd, environment),
        and Celery processes of this stack's nodes (`[celeryd: worker-0@host.<tag>…]`), whose
        title says so even when their environment is unreadable.

        Deliberately looser than the code under test, so it catches what that code would miss.
        """
        mark, found = str(self.root.resolve()), {}
        node = f".{stack_tag(self.settings.devmatrix_state_dir)}"
        for process in psutil.process_iter():
            if process.pid == os.getpid():
                continue
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                title = " ".join(process.cmdline())
                if "celeryd:" in title and node in title:
                    found[process.pid] = title[:120]
                    continue
                texts = [*process.cmdline(), process.cwd(), *process.environ().values()]
            except psutil.Error:
                continue
            if any(mark in text for text in texts):
                found[process.pid] = " ".join(process.cmdline())[:120]
        return found

    # --- data that must survive -------------------------------------------------
    def write_data(self, rows: int) -> tuple[int, int]:
        """Commit ``rows`` rows and as many Chroma records; return the totals."""
        pg = PostgresManager(settings=self.settings, database="postgres")
        try:
            pg.execute("CREATE TABLE IF NOT EXISTS heal_rows (id serial PRIMARY KEY, note text NOT NULL)")
            for i in range(rows):
                pg.execute("INSERT INTO heal_rows (note) VALUES (%s)", (f"row {i}",))
        finally:
            pg.close()
        with ChromaHTTP(self.settings.chroma_url) as chroma:
            found = [c for c in chroma.collections() if c["name"] == COLLECTION]
            cid = found[0]["id"] if found else chroma.create(COLLECTION, None, None)
            start = chroma.count(cid)
            ids = [f"r{start + i}" for i in range(rows)]
            chroma.add(cid, {"ids": ids, "embeddings": [[float(i), 1.0, 0.5] for i in range(rows)],
                             "documents": ids})
        return self.read_data()

    def read_data(self) -> tuple[int, int]:
        pg = PostgresManager(settings=self.settings, database="postgres")
        try:
            (row,) = pg.execute("SELECT count(*) AS n FROM heal_rows")
        finally:
            pg.close()
        with ChromaHTTP(self.settings.chroma_url) as chroma:
            (collection,) = [c for c in chroma.collections() if c["name"] == COLLECTION]
            return row["n"], chroma.count(collection["id"])


@pytest.fixture(scope="module")
def heal(settings: Settings) -> Iterator[HealStack]:
    root = (Path(".devmatrix/test-heal") / uuid.uuid4().hex[:8]).resolve()
    root.mkdir(parents=True)
    values = {
        "DEVMATRIX_PROVIDER": "native", "DEVMATRIX_STATE_DIR": root / "state", "LLM_BACKEND": "local",
        "WORKSPACE_DIR": root / "workspace_test", "BACKUP_DIR": root / "backups",
        "RAG_CACHE_DIR": settings.rag_cache_dir.resolve(),  # the session's warm embedding cache
        "LOG_LEVEL": "INFO",
        **{setting.upper(): port for setting, port in zip(PORTS, free_ports(len(PORTS)), strict=True)},
    }
    env_file = root / ".env.test"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    stack = HealStack(root, env_file, load_settings(env_file))
    try:
        stack.up()
        yield stack
    finally:
        stack.invoke("infra.down")
        for pid in stack.leftovers():  # never leave a server behind, whatever failed
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        if root.parent.is_dir() and not any(root.parent.iterdir()):
            root.parent.rmdir()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_infra_up_after_the_supervisor_is_killed_restarts_its_orphans_and_keeps_data(heal):
    before = heal.write_data(5)
    old, every_old = heal.server_pids(), heal.server_processes()
    os.kill(heal.supervisord_pid(), signal.SIGKILL)
    time.sleep(0.5)
    assert all(_alive(pid) for pid in old.values()), "the servers outlive their supervisor as orphans"

    result = heal.up()

    assert "running without its supervisor" in result.stderr
    assert "PORT to a free port" not in result.stdout + result.stderr
    # every process: each worker process and its pool too, not only the first of the group
    left = {pid for pid in every_old if _alive(pid)}
    assert not left, f"orphans left beside the new servers: {left}"
    assert set(heal.server_pids().values()).isdisjoint(old.values())
    heal.assert_healthy()
    assert heal.read_data() == before


def test_infra_up_after_the_supervisor_froze_replaces_it_and_its_servers(heal):
    frozen, old = heal.supervisord_pid(), heal.server_pids()
    os.kill(frozen, signal.SIGSTOP)  # it accepts connections on its socket but never answers
    try:
        result = heal.up()
    finally:
        if _alive(frozen):
            os.kill(frozen, signal.SIGCONT)
    assert f"supervisord (pid {frozen})" in result.stderr
    assert not _alive(frozen) and not any(_alive(pid) for pid in old.values())
    assert heal.supervisord_pid() != frozen
    heal.assert_healthy()


def test_infra_down_after_the_supervisor_is_killed_stops_every_orphan(heal):
    os.kill(heal.supervisord_pid(), signal.SIGKILL)
    time.sleep(0.5)
    result = heal.invoke("infra.down")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "stopped: postgres, redis, chroma, llm, api, worker" in result.stdout
        assert heal.leftovers() == {}
        assert {name: system.port_holder(port) for name, port in heal.ports().items()} == dict.fromkeys(PORTED)
    finally:
        heal.up()


def test_one_infra_up_heals_a_crash_of_everything_and_keeps_committed_data(heal):
    before = heal.write_data(5)
    victims = [heal.supervisord_pid()]
    for pid in heal.server_pids().values():
        victims += [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    for pid in victims:  # all at once, as a power cut or the OOM killer would
        os.kill(pid, signal.SIGKILL)
    assert (heal.settings.devmatrix_state_dir / "data" / "postgres" / "postmaster.pid").exists()

    heal.up()

    heal.assert_healthy()
    assert heal.read_data() == before


def test_down_returns_with_every_process_gone_and_every_port_free_so_up_works_at_once(heal):
    for _ in range(3):
        down = heal.invoke("infra.down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert heal.leftovers() == {}
        assert all(system.port_holder(port) is None for port in heal.ports().values())
        heal.up()
    heal.assert_healthy()


def test_a_postmaster_pid_reused_by_another_process_does_not_block_postgres(heal):
    assert heal.invoke("infra.down", "-s", "postgres").returncode == 0
    # alive, not a postgres of this data dir, and of postgres' own user: Postgres itself would
    # take that pid for a live server and refuse to start ("lock file already exists")
    squatter = subprocess.Popen(["sleep", "60"], user=heal.settings.postgres_system_user if system.is_root() else None)
    try:
        pidfile = heal.settings.devmatrix_state_dir / "data" / "postgres" / "postmaster.pid"
        pidfile.write_text(f"{squatter.pid}\n{pidfile.parent}\n1700000000\n{heal.settings.postgres_port}\n")
        result = heal.invoke("infra.up", "-s", "postgres")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"its pid {squatter.pid} is now another process" in result.stderr
    finally:
        squatter.kill()
        squatter.wait()
    heal.assert_healthy()


def test_two_phase1_at_once_both_succeed_one_waiting_for_the_other(heal):
    assert heal.invoke("infra.down").returncode == 0
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(heal.invoke, "phase1")
        time.sleep(1.0)
        second = pool.submit(heal.invoke, "phase1")
        results = [first.result(), second.result()]
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
    waited = [r for r in results if "waiting for `invoke phase1`" in r.stderr]
    assert len(waited) == 1, [r.stderr[-500:] for r in results]
    validate = heal.invoke("validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
