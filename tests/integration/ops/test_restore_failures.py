"""A restore that fails at any store leaves all three exactly as they were (issue 17).

Every failure here is real: a server stopped or killed by its pid, a port
taken, a filesystem that is full. The only things patched are *when* a failure
happens (a wrapper that kills a server at a chosen step) and, in one test, the
free space the preflight sees, to reach the mid-copy failure behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _backup_stack import Stack, assert_same_data, said, snapshot, write_known_data

from devmatrix import backup
from devmatrix.backup import chroma as chroma_backup
from devmatrix.backup import journal
from devmatrix.backup import postgres as pg_backup
from devmatrix.backup import restore as restore_tx
from devmatrix.errors import BackupError
from devmatrix.results import Status
from devmatrix.stack.redis_aof import AOF_DIR

pytestmark = pytest.mark.integration


# --- helpers -------------------------------------------------------------------
def add_rows(target: Stack, n: int, tag: str, size: int = 0) -> None:
    pg = target.postgres()
    try:
        for i in range(n):
            pg.execute("INSERT INTO code_generation_logs (workspace_id, user_request, generated_code)"
                       " VALUES (%s, %s, %s)", (tag, f"{tag} {i}", os.urandom(size // 2).hex()))
    finally:
        pg.close()


def row_count(target: Stack) -> int:
    pg = target.postgres()
    try:
        return pg.execute("SELECT count(*) AS n FROM code_generation_logs")[0]["n"]
    finally:
        pg.close()


def leftovers(target: Stack) -> dict[str, list]:
    """Anything a restore may leave behind: staged or set-aside databases, files, collections."""
    pg = target.postgres()
    try:
        databases = [r["datname"] for r in pg.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                              ("%\\_re%\\_%",))]
    finally:
        pg.close()
    redis_dir = target.provider.catalog["redis"].data_dir
    files = sorted(p.name for p in redis_dir.iterdir() if p.name not in ("dump.rdb", AOF_DIR))  # the server's own
    with target.chroma() as chroma:
        collections = [c["name"] for c in chroma.collections() if c["name"].startswith("devmatrix-")]
    return {"databases": databases, "files": files, "collections": collections}


NOTHING_LEFT = {"databases": [], "files": [], "collections": []}
SQUAT_S = 15.0


def pid_of(target: Stack, service: str) -> int:
    (state,) = target.provider.status((service,))
    assert state.pid, f"{service} has no pid: {state.detail}"
    return state.pid


def wait_healthy(target: Stack, service: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (state,) = target.provider.status((service,))
        if state.healthy:
            return
        time.sleep(0.2)
    target.provider.up((service,))


def restore_patched(target: Stack, path: Path, monkeypatch, owner: object, name: str, fault: object) -> str:
    """The restore's message with ``owner.name`` replaced by ``fault`` (a wrapper that injects it) meanwhile."""
    monkeypatch.setattr(owner, name, fault)
    try:
        return restore(target, path)
    finally:
        monkeypatch.undo()


def assert_as_before(target: Stack, before: dict) -> None:
    """Every store holds what it held before the restore, and the restore left nothing behind."""
    assert snapshot(target) == before
    assert leftovers(target) == NOTHING_LEFT


def write_newer_data(target: Stack) -> None:
    """Rows, a key and a collection made after the backup: a failed restore must keep them."""
    add_rows(target, 5, "newer")
    client = target.redis()
    client.set("test:newer", "after the backup")
    client.close()
    with target.chroma() as chroma:
        chroma.create("newer_collection", None, None)


@pytest.fixture
def backed_up(clean: Stack) -> Iterator[tuple[Stack, Path]]:
    """Known data, a backup of it, then newer data: a restore must not lose the newer data when it fails."""
    write_known_data(clean)
    report = backup.create_backup(clean.settings)
    write_newer_data(clean)
    yield clean, report.path
    for service in ("postgres", "redis", "chroma"):
        wait_healthy(clean, service)


def restore(target: Stack, path: Path) -> str:
    with pytest.raises(BackupError) as caught:
        backup.restore_backup(target.settings, path, confirmed=True, provider=target.provider)
    return str(caught.value)


# --- the sequence, from the command line -----------------------------------
def test_chroma_down_the_restore_refuses_and_all_15_rows_stay(clean: Stack, invoke_cli):
    add_rows(clean, 10, "first")
    env = {"DEVMATRIX_ENV_FILE": str(clean.env_file())}
    done = invoke_cli("backup", "--json", env=env, isolated=True)
    assert done.returncode == 0, done.stderr
    add_rows(clean, 5, "second")
    before = snapshot(clean)
    clean.provider.down(("chroma",))
    try:
        done = invoke_cli("restore", "--from", "latest", "--yes", env=env, isolated=True)
    finally:
        clean.provider.up(("chroma",))
    assert done.returncode == 1
    assert "preflight: chroma answers" in said(done) and "every store is unchanged" in said(done)
    assert "Traceback" not in done.stderr
    assert row_count(clean) == 15
    assert snapshot(clean) == before
    assert leftovers(clean) == NOTHING_LEFT


# --- a server stopped before the restore: refused, nothing touched -----------------
@pytest.mark.parametrize("service", ["postgres", "redis", "chroma"])
def test_a_stopped_server_is_refused_before_anything_changes(backed_up, service: str):
    target, path = backed_up
    before = snapshot(target)
    target.provider.down((service,))
    try:
        message = restore(target, path)
    finally:
        target.provider.up((service,))
    assert f"preflight: {service} answers" in message
    assert "restore refused before touching anything" in message
    assert_as_before(target, before)


# --- a server killed while the backup is imported beside the live data -------------
def _kill_postgres_at_pg_restore(target: Stack, real_run):
    def run(args, *a, **kw):
        if str(args[0]).endswith("pg_restore"):
            os.kill(pid_of(target, "postgres"), signal.SIGKILL)  # the server dies under the import
        return real_run(args, *a, **kw)
    return run


def _kill_chroma_after_the_first_batch(target: Stack, real_add):
    def add(self, collection_id, batch):
        real_add(self, collection_id, batch)
        os.kill(pid_of(target, "chroma"), signal.SIGKILL)
    return add


@pytest.mark.parametrize(("service", "owner", "name", "fault", "said"), [
    ("postgres", pg_backup, "run_bounded", _kill_postgres_at_pg_restore, ["pg_restore"]),
    ("chroma", chroma_backup.ChromaHTTP, "add", _kill_chroma_after_the_first_batch,
     ["chroma", "the staged copies were removed"]),
], ids=["postgres", "chroma"])
def test_a_server_killed_during_the_import_changes_nothing(backed_up, monkeypatch, service, owner, name, fault, said):
    target, path = backed_up
    before = snapshot(target)
    message = restore_patched(target, path, monkeypatch, owner, name, fault(target, getattr(owner, name)))
    assert "while staging, before any store was swapped" in message
    assert all(words in message for words in said), message
    wait_healthy(target, service)
    assert_as_before(target, before)


# --- a failure after some stores were swapped: every swapped store rolled back -------
def test_chroma_killed_during_the_swap_rolls_back_postgres_and_redis(backed_up, monkeypatch):
    target, path = backed_up
    before = snapshot(target)
    real_rename = chroma_backup.ChromaHTTP.rename
    calls = []

    def rename(self, collection_id, new_name):
        calls.append(new_name)
        if len(calls) == 2:  # one live collection already renamed aside
            os.kill(pid_of(target, "chroma"), signal.SIGKILL)
        real_rename(self, collection_id, new_name)

    message = restore_patched(target, path, monkeypatch, chroma_backup.ChromaHTTP, "rename", rename)
    assert "restore failed while swapping chroma" in message
    rolled_back = message.split("Rolled back:")[1]
    assert rolled_back.index("chroma") < rolled_back.index("redis") < rolled_back.index("postgres")
    assert "COULD NOT" not in message
    assert_as_before(target, before)


def test_redis_unable_to_start_on_the_backup_rolls_back_postgres(backed_up, monkeypatch):
    """Someone takes Redis's port while it is stopped for the swap: the start fails, all is undone."""
    target, path = backed_up
    before = snapshot(target)
    real_down = target.provider.down
    squatters: list[socket.socket] = []

    def down(names=()):
        stopped = real_down(names)
        if names == ("redis",) and not squatters:  # the swap's stop, not the rollback's
            squatter = socket.socket()
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", target.settings.redis_port))
            squatter.listen()
            squatters.append(squatter)
            # gone before the rollback gives up (60 s); held past the swap's start, which first turns
            # the restored RDB into an AOF (stack/redis_aof.py) with a server of its own
            threading.Timer(SQUAT_S, squatter.close).start()
        return stopped

    monkeypatch.setattr(target.provider, "down", down)
    try:
        message = restore(target, path)
    finally:
        monkeypatch.undo()
        for squatter in squatters:
            squatter.close()
    assert "restore failed while swapping redis" in message
    assert "Rolled back: redis" in message and "postgres (" in message
    assert_as_before(target, before)


# --- no space left ---------------------------------------------------------------------
@contextlib.contextmanager
def small_filesystem(where: Path, size: int, owner: str | None = None) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted on ``where`` (needs root: skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}"
    if owner:
        user = pwd.getpwnam(owner)
        options += f",uid={user.pw_uid},gid={user.pw_gid},mode=0700"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_postgres_out_of_space_during_the_import_changes_nothing(backed_up, tmp_path):
    """The new database lives on a tablespace with room for the template only: writing it hits ENOSPC.

    Postgres writes the imported pages lazily, so the full disk surfaces at the
    restore's CHECKPOINT, still before anything is swapped.
    """
    target, _ = backed_up
    add_rows(target, 400, "big", size=10_000)  # ~4 MB of rows in the backup
    path = backup.create_backup(target.settings).path
    add_rows(target, 5, "newest")
    before = snapshot(target)
    pg = target.postgres()
    try:
        template = pg.execute("SELECT pg_database_size('template1') AS size")[0]["size"]
    finally:
        pg.close()
    admin = pg_backup._admin(target.settings)
    owner = target.settings.postgres_system_user if os.geteuid() == 0 else None
    try:
        with small_filesystem(target.root.resolve() / "small-tablespace", 2 * template + (1 << 20), owner) as room, \
                admin.cursor() as cursor:
            cursor.execute(f"CREATE TABLESPACE small LOCATION '{room}'")
            try:
                # CREATE DATABASE copies template1: the restore's new database lands on the small disk
                cursor.execute("ALTER DATABASE template1 SET TABLESPACE small")
                message = restore(target, path)
            finally:
                cursor.execute("ALTER DATABASE template1 SET TABLESPACE pg_default")
                cursor.execute("DROP TABLESPACE small")
    finally:
        admin.close()
    assert "while staging, before any store was swapped" in message
    assert "writing the restored database to disk failed" in message and "disk is full" in message
    assert_as_before(target, before)


@pytest.mark.parametrize("service", ["redis", "chroma"])
def test_too_little_disk_is_refused_by_the_preflight(backed_up, service: str):
    target, path = backed_up
    before = snapshot(target)
    with small_filesystem(target.provider.catalog[service].data_dir, 256 << 10):
        message = restore(target, path)
    assert "preflight: disk space" in message and "MB free, the restore needs" in message
    assert_as_before(target, before)


def test_redis_out_of_space_while_copying_the_rdb_changes_nothing(backed_up, monkeypatch):
    """The preflight's estimate said there was room (patched); the real copy hits ENOSPC."""
    target, _ = backed_up
    client = target.redis()
    client.set("test:big", os.urandom(300_000).hex())  # a 600 kB value: an RDB larger than the disk
    client.close()
    path = backup.create_backup(target.settings).path
    client = target.redis()
    client.delete("test:big")
    client.close()
    before = snapshot(target)
    monkeypatch.setattr(restore_tx, "free_bytes", lambda _: 1 << 40)
    with small_filesystem(target.provider.catalog["redis"].data_dir, 256 << 10):
        message = restore(target, path)
    assert "while staging, before any store was swapped" in message
    assert "No space left on device" in message
    assert_as_before(target, before)


# --- the restore process itself killed: the journal lets `restore --recover` finish the job ---------
KILLED_RESTORE = str(Path(__file__).with_name("_killed_restore.py"))


@pytest.mark.parametrize(("point", "outcome"), [
    ("postgres-swap", "rolled back"), ("redis-swap", "rolled back"), ("chroma-swap", "rolled back"),
    ("commit", "completed"),
])
def test_a_killed_restore_is_refused_flagged_and_recovered(clean: Stack, invoke_cli, point: str, outcome: str):
    """SIGKILL mid-swap leaves mixed stores: validate fails, a new restore refuses, --recover undoes it.

    Killed while deleting the old copies (every store already swapped), --recover
    finishes the restore instead: the stores hold exactly the backup.
    """
    write_known_data(clean)
    at_backup = snapshot(clean)
    path = backup.create_backup(clean.settings).path
    write_newer_data(clean)
    before = snapshot(clean)
    env = {"DEVMATRIX_ENV_FILE": str(clean.env_file())}
    killed = subprocess.run([sys.executable, KILLED_RESTORE, point, str(path)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, **env}, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert journal.pending(clean.settings)["backup"] == str(path)

    checked = invoke_cli("validate", "--json", env=env, isolated=True)
    (state,) = [c for c in json.loads(checked.stdout)["checks"] if c["name"] == "restore state"]
    assert checked.returncode == 1 and state["status"] == "FAIL" and "invoke restore --recover" in state["detail"]
    refused = invoke_cli("restore", "--from", str(path), "--yes", env=env, isolated=True)
    assert refused.returncode == 1 and "invoke restore --recover" in said(refused) + refused.stdout

    done = invoke_cli("restore", "--recover", "--json", env=env, isolated=True)
    assert done.stdout.startswith("{"), said(done)
    steps = {step["name"]: step for step in json.loads(done.stdout)["steps"]}
    # the scratch stack runs no worker and has no RAG corpus: the critical failures expected
    assert [name for name, step in steps.items() if step["status"] == "FAIL" and step["critical"]] == \
        ["validate: worker", "validate: rag"], said(done)
    assert steps["recover"]["status"] == "PASS" and steps["validate: restore state"]["status"] == "PASS"
    reported = steps["recover"]["detail"]
    if outcome == "rolled back":
        assert "rolled back:" in reported and "as it was before that restore" in reported
        assert snapshot(clean) == before
    else:
        assert "the restore is complete" in reported
        assert_same_data(snapshot(clean), at_backup)  # embeddings within the restore's float tolerance
    assert journal.pending(clean.settings) is None
    assert leftovers(clean) == NOTHING_LEFT
    again = invoke_cli("restore", "--recover", "--json", env=env, isolated=True)
    assert json.loads(again.stdout)["steps"][0]["detail"] == "no interrupted restore: nothing to do"


def test_redis_killed_after_starting_on_the_backup_restarts_and_the_restore_completes(clean: Stack, monkeypatch):
    """Redis dies right after it started on the backup's RDB: supervisord starts it again on
    the same file, and the restore's keyspace check waits for it; the stores hold the backup."""
    write_known_data(clean)
    at_backup = snapshot(clean)
    path = backup.create_backup(clean.settings).path
    add_rows(clean, 5, "newer")
    real_up = clean.provider.up
    killed: list[int] = []

    def up(names=()):
        states = real_up(names)
        if names == ("redis",) and not killed:  # the swap's start on the backup's RDB
            killed.append(pid_of(clean, "redis"))
            os.kill(killed[0], signal.SIGKILL)
        return states

    monkeypatch.setattr(clean.provider, "up", up)
    results = backup.restore_backup(clean.settings, path, confirmed=True, provider=clean.provider)
    monkeypatch.undo()
    assert killed
    steps = {r.name: r for r in results}
    assert steps["redis"].status is Status.PASS, steps["redis"].detail
    wait_healthy(clean, "redis")
    assert pid_of(clean, "redis") != killed[0]
    assert_same_data(snapshot(clean), at_backup)
    assert leftovers(clean) == NOTHING_LEFT
