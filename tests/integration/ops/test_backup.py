"""Backup, verify and restore against real Postgres, Redis and Chroma (a scratch stack of their own)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from _backup_stack import Stack, assert_same_data, change_everything, said, snapshot, write_known_data

from devmatrix import backup
from devmatrix.backup import manifest, schedule
from devmatrix.backup import postgres as pg_backup
from devmatrix.checks.validate import run_validation
from devmatrix.errors import BackupError
from devmatrix.results import Status

pytestmark = pytest.mark.integration



# --- the tests ---------------------------------------------------------------
def test_round_trip_restores_exactly_the_originals(clean: Stack):
    write_known_data(clean)
    original = snapshot(clean)
    report = backup.create_backup(clean.settings)
    assert report.manifest["postgres"]["tables"]["public.code_generation_logs"]["rows"] == 25
    assert report.manifest["redis"]["keys"] == 6
    assert {n: c["count"] for n, c in report.manifest["chroma"]["collections"].items()} == \
        {"rt_examples": 30, "rt_l2": 5}

    change_everything(clean)
    assert snapshot(clean) != original

    results = backup.restore_backup(clean.settings, report.path, confirmed=True, provider=clean.provider,
                                     then=run_validation)
    steps = {r.name: r for r in results}
    for name in ("postgres", "redis", "chroma", "validate: postgres", "validate: redis", "validate: chroma"):
        assert steps[name].status is Status.PASS, (name, steps[name].detail)
    assert_same_data(snapshot(clean), original)


def test_a_flipped_byte_is_refused_naming_the_file_and_nothing_changes(clean: Stack, invoke_cli):
    write_known_data(clean)
    report = backup.create_backup(clean.settings)
    change_everything(clean)
    before = snapshot(clean)
    dump = report.path / report.manifest["postgres"]["file"]
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    with pytest.raises(BackupError) as caught:
        backup.restore_backup(clean.settings, report.path, confirmed=True, provider=clean.provider)
    assert str(dump) in str(caught.value)
    assert "sha256" in str(caught.value)

    done = invoke_cli("restore", "--from", str(report.path), "--yes",
                      env={"DEVMATRIX_ENV_FILE": str(clean.env_file())}, isolated=True)
    assert done.returncode == 1
    assert "devmatrix_test.dump" in said(done) and "does not match its manifest" in said(done)
    assert "Traceback" not in done.stderr
    assert snapshot(clean) == before


def test_restore_without_a_terminal_needs_yes(clean: Stack, invoke_cli):
    write_known_data(clean)
    report = backup.create_backup(clean.settings)
    change_everything(clean)
    before = snapshot(clean)
    done = invoke_cli("restore", "--from", str(report.path),
                      env={"DEVMATRIX_ENV_FILE": str(clean.env_file())}, isolated=True)
    assert done.returncode == 1
    assert "without confirmation" in said(done) and "--yes" in said(done)
    assert snapshot(clean) == before


def test_backup_while_generations_are_written_restores_whole_transactions(clean: Stack):
    """A writer commits 5 rows per transaction; the backup must hold whole transactions only."""
    stop = threading.Event()
    batches = []

    def writer() -> None:
        conn = psycopg2.connect(**clean.settings.postgres_dsn_params)
        try:
            while not stop.is_set():
                batch = f"batch-{len(batches)}"
                with conn, conn.cursor() as cursor:
                    for part in range(5):
                        cursor.execute("INSERT INTO code_generation_logs (workspace_id, user_request)"
                                       " VALUES (%s, %s)", (batch, f"part {part}"))
                batches.append(batch)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(batches) < 20:
            stop.wait(0.01)
        report = backup.create_backup(clean.settings)
        written_during = len(batches)
    finally:
        stop.set()
        thread.join()
    rows = report.manifest["postgres"]["tables"]["public.code_generation_logs"]["rows"]
    assert rows % 5 == 0 and rows >= 100
    assert written_during * 5 > rows or len(batches) * 5 > rows  # the writer really ran past the snapshot

    scratch = pg_backup.scratch_name(clean.settings.postgres_db, "consistency")
    try:
        tables = pg_backup.restore_into(clean.settings, report.path / report.manifest["postgres"]["file"], scratch)
        conn = psycopg2.connect(**{**clean.settings.postgres_dsn_params, "dbname": scratch})
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT workspace_id, count(*) FROM code_generation_logs GROUP BY 1")
                sizes = dict(cursor.fetchall())
        finally:
            conn.close()
    finally:
        pg_backup.drop_database(clean.settings, scratch)
    assert set(sizes.values()) == {5}, "a partial transaction was restored"
    assert tables == report.manifest["postgres"]["tables"]


def test_verify_uses_scratch_places_only_and_catches_a_wrong_count(clean: Stack):
    write_known_data(clean)
    report = backup.create_backup(clean.settings)
    before = snapshot(clean)
    results = backup.verify_backup(clean.settings, report.path)
    assert [(r.name, r.status) for r in results] == [
        ("checksums", Status.PASS), ("postgres", Status.PASS), ("redis", Status.PASS), ("chroma", Status.PASS)]
    assert results[3].data["collections"] == {"rt_examples": 30, "rt_l2": 5}
    assert snapshot(clean) == before
    pg = clean.postgres()
    try:
        leftovers = pg.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", ("%\\_verify\\_%",))
    finally:
        pg.close()
    assert leftovers == []

    body = json.loads((report.path / manifest.MANIFEST).read_text())
    body["postgres"]["tables"]["public.code_generation_logs"]["rows"] = 24
    manifest.write_manifest(report.path, body)
    results = {r.name: r for r in backup.verify_backup(clean.settings, report.path)}
    assert results["postgres"].status is Status.FAIL
    assert "public.code_generation_logs: 25 rows" in results["postgres"].detail


def test_backup_and_verify_from_the_command_line_with_retention(clean: Stack, invoke_cli):
    write_known_data(clean)
    env = {"DEVMATRIX_ENV_FILE": str(clean.env_file())}
    made = []
    for _ in range(3):
        done = invoke_cli("backup", "--keep", "2", "--json", env=env, isolated=True)
        assert done.returncode == 0, done.stderr
        made.append(json.loads(done.stdout)["path"])
    kept = [str(p) for p in manifest.complete_backups(clean.settings.backup_dir)]
    assert kept == made[1:]

    done = invoke_cli("backup.verify", "latest", "--json", env=env, isolated=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["path"] == made[-1]

    before = snapshot(clean)
    change_everything(clean)
    done = invoke_cli("restore", "--from", "latest", "--yes", "--json", env=env, isolated=True)
    steps = {s["name"]: s["status"] for s in json.loads(done.stdout)["steps"]}
    assert {n: steps[n] for n in ("postgres", "redis", "chroma", "validate: postgres")} == dict.fromkeys(
        ("postgres", "redis", "chroma", "validate: postgres"), "PASS"), done.stderr
    assert_same_data(snapshot(clean), before)

    done = invoke_cli("backup.verify", str(clean.root / "no-such-backup"), env=env, isolated=True)
    assert done.returncode == 2  # the argument's mistake
    assert "no-such-backup does not exist" in said(done)


def test_a_backup_is_private_durable_and_removes_stale_partials(clean: Stack):
    root = clean.settings.backup_dir
    root.mkdir(parents=True, exist_ok=True)
    stale = root / (manifest.new_name() + manifest.PARTIAL)
    (stale / "postgres").mkdir(parents=True)
    (stale / "postgres" / "half.dump").write_bytes(b"interrupted")
    report = backup.create_backup(clean.settings)
    assert not stale.exists()
    assert manifest.complete_backups(root) == [report.path]
    modes = {p.relative_to(report.path).as_posix(): p.stat().st_mode & 0o777 for p in report.path.rglob("*")}
    assert report.path.stat().st_mode & 0o777 == 0o700
    assert {m for p, m in modes.items() if (report.path / p).is_dir()} == {0o700}
    assert {m for p, m in modes.items() if (report.path / p).is_file()} == {0o600}

    with manifest.backup_lock(root), pytest.raises(BackupError, match="another backup is writing"):
        backup.create_backup(clean.settings)
    assert manifest.complete_backups(root) == [report.path]  # the refused one left nothing behind


def test_scheduled_backups_run_under_the_supervisor_and_stop_with_off(clean: Stack):
    clean.env_file()  # the scheduler loads these settings (DEVMATRIX_ENV_FILE)
    write_known_data(clean)
    message = schedule.enable(clean.settings, schedule.Schedule(3600, 2), clean.provider, project=Path.cwd())
    assert "every 1h, keeping the newest 2 under supervisord" in message
    try:
        deadline = time.monotonic() + 60
        while not manifest.complete_backups(clean.settings.backup_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        (made,) = manifest.complete_backups(clean.settings.backup_dir)  # no backup yet: one at once
        body = manifest.read_manifest(made)
        assert body["postgres"]["tables"]["public.code_generation_logs"]["rows"] == 25
        (state,) = clean.provider.status((schedule.SERVICE,))
        assert state.healthy and state.version == "every 1h, keeping the newest 2"
        assert schedule.latest_backup_metrics(clean.settings)[1] == sum(f["bytes"] for f in body["files"].values())
        bare_up = clean.provider.services()  # what a bare `infra.up` starts
        assert schedule.SERVICE in bare_up
        clean.provider.down()  # `infra.down`: every program and the supervisor stop
        # the scratch stack shares the main stack's llm and api: everything else a bare `up` starts
        clean.provider.up(tuple(name for name in bare_up if name not in ("llm", "api")))
        (state,) = clean.provider.status((schedule.SERVICE,))
        assert state.running and state.healthy, state.detail
    finally:
        off = schedule.disable(clean.settings, clean.provider)
    assert off.startswith("scheduled backups are off")
    (state,) = clean.provider.status((schedule.SERVICE,))
    assert not state.running and not schedule.schedule_path(clean.settings).exists()
    assert schedule.SERVICE not in clean.provider.services()
