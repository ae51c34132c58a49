"""Phases db, env and git and their commands, against the real stack."""

from __future__ import annotations

import json

import git
import pytest

from devmatrix.errors import ConfirmationRequired
from devmatrix.results import Status
from devmatrix.setup import db
from devmatrix.setup.git import INITIAL_COMMIT_MESSAGE, check_workspace, init_workspace

pytestmark = pytest.mark.integration


def test_database_setup_creates_then_changes_nothing(scratch_database):
    first = db.setup_database(scratch_database)
    assert first[0].detail == f"created {scratch_database.postgres_db}"
    assert db.pending_migrations(scratch_database) == []
    second = db.setup_database(scratch_database)
    assert [r.status for r in second] == [Status.SKIPPED]


def test_schema_has_the_seed_columns_and_pgvector(scratch_database):
    db.setup_database(scratch_database)
    conn = db._connect(scratch_database, scratch_database.postgres_db)
    with conn.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns"
                       " WHERE table_name = 'code_generation_logs'")
        columns = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector")
        assert cursor.fetchone()[0] == pytest.approx(1.0)
    conn.close()
    assert {"id", "timestamp", "workspace_id", "user_request", "generated_code",
            "approval_status", "quality_score", "metadata"} <= columns


def test_recreate_without_confirmation_refuses_and_keeps_data(scratch_database):
    db.setup_database(scratch_database)
    with pytest.raises(ConfirmationRequired, match="--yes"):
        db.setup_database(scratch_database, recreate=True)
    assert db.database_exists(scratch_database)


def test_db_setup_recreate_on_non_interactive_stdin_refuses(invoke_cli, scratch_database):
    result = invoke_cli("db.setup", "--recreate",
                        env={"POSTGRES_DB": scratch_database.postgres_db})
    assert result.returncode == 1
    assert "refusing to drop database" in result.stderr and "--yes" in result.stderr


def test_validate_with_a_bad_env_file_exits_2_listing_every_problem(invoke_cli, tmp_path):
    bad = tmp_path / ".env.test"
    bad.write_text("REDIS_PORT=abc\nnot a line\nPOSTGRES_DB=x;drop\n")
    result = invoke_cli("validate", env={"DEVMATRIX_ENV_FILE": str(bad)}, isolated=True)
    assert result.returncode == 2
    for expected in ("REDIS_PORT=abc is not a port number", "line 2: cannot parse",
                     "POSTGRES_DB=x;drop"):
        assert expected in result.stderr


def test_validate_json_with_a_bad_env_file_is_still_json(invoke_cli, tmp_path):
    bad = tmp_path / ".env.test"
    bad.write_text("REDIS_PORT=abc\n")
    result = invoke_cli("validate", "--json", env={"DEVMATRIX_ENV_FILE": str(bad)}, isolated=True)
    assert result.returncode == 2
    payload = json.loads(result.stdout)
    assert payload["ready"] is False and payload["exit_code"] == 2
    assert payload["problems"] == ["REDIS_PORT=abc is not a port number (1-65535)"]


def test_validate_json_reports_ready(invoke_cli):
    result = invoke_cli("validate", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["ready"] is True and report["passed"] == report["total"]
    assert {c["name"] for c in report["checks"]} >= {"postgres", "redis", "chroma", "git workspace"}


def test_phase1_second_run_changes_nothing(invoke_cli):
    result = invoke_cli("phase1", "--json")
    assert result.returncode == 0, result.stderr
    statuses = {r["status"] for step in json.loads(result.stdout)["steps"] for r in step["results"]}
    assert "FAIL" not in statuses
    results = {r["name"]: r for step in json.loads(result.stdout)["steps"] for r in step["results"]}
    changed = [r for r in results.values() if r["status"] == "PASS" and r["name"] != "settings"]  # a check
    assert changed == []
    assert results["llm (local)"]["status"] == "SKIPPED"  # the model is not asked again
    assert "nothing changed since" in results["llm (local)"]["detail"]


def test_git_workspace_init_is_idempotent(settings, tmp_path):
    local = settings.model_copy(update={"workspace_dir": tmp_path / "ws"})
    assert init_workspace(local, dry=True).detail.startswith("would git init")
    assert not (tmp_path / "ws").exists()
    assert init_workspace(local).status is Status.PASS
    repo = git.Repo(tmp_path / "ws")
    assert [c.message for c in repo.iter_commits()] == [INITIAL_COMMIT_MESSAGE]
    assert repo.config_reader().get_value("user", "email") == settings.git_user_email
    assert init_workspace(local).status is Status.SKIPPED
    assert check_workspace(local).status is Status.PASS
