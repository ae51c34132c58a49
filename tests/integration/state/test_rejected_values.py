"""A value the real Postgres rejects is not an outage: it is a bug (StatementRejected, 500, exit 1)
where no user can send it, and a value a user sends (an id, a limit) is refused before it reaches
Postgres, naming it (422, exit 2). Never a 503 or advice to restart a healthy server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devmatrix.config import env_file_path
from devmatrix.errors import InvalidValue, NotSetUp, ServiceError, StatementRejected
from devmatrix.jobs.store import JobStore
from devmatrix.state.postgres import MAX_LOG_ID

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
CLI = str(Path(sys.executable).parent / "devmatrix")


@pytest.mark.parametrize(("sql", "params", "sqlstate", "said"), [
    ("SELECT %s::uuid", ("not-a-uuid",), "22P02", 'invalid input syntax for type uuid: "not-a-uuid"'),
    ("SELECT %s::int", (2**40,), "22003", "integer out of range"),
    ("SELECT %s::date", ("2026-02-30",), "22008", 'date/time field value out of range: "2026-02-30"'),
    ("SELECT 1 LIMIT %s", (-1,), "2201W", "LIMIT must not be negative"),
    ("SELEC 1", None, "42601", 'syntax error at or near "SELEC"'),
], ids=["malformed-uuid", "int-out-of-range", "no-such-date", "negative-limit", "syntax"])
def test_a_statement_the_real_postgres_rejects_is_a_bug_not_an_outage(real_postgres_manager, sql, params,
                                                                        sqlstate, said):
    with pytest.raises(StatementRejected) as rejected:
        real_postgres_manager.execute(sql, params)
    error = rejected.value
    assert not isinstance(error, ServiceError) and (error.http_status, error.exit_code) == (500, 1)
    assert error.sqlstate == sqlstate and said in error.message
    assert "do not restart" in error.fix and "infra." not in error.fix
    # the server is fine and so is the connection: the next statement on the pool runs
    assert real_postgres_manager.execute("SELECT 1 AS one") == [{"one": 1}]


def test_a_table_that_is_not_there_is_a_setup_step(real_postgres_manager):
    with pytest.raises(NotSetUp) as missing:
        real_postgres_manager.execute("SELECT * FROM no_such_table_devmatrix")
    assert 'relation "no_such_table_devmatrix" does not exist' in missing.value.message
    assert "`invoke db`" in missing.value.fix


@pytest.mark.parametrize("log_id", [0, -1, MAX_LOG_ID + 1, 2**40, "1"])
def test_a_log_id_the_column_cannot_hold_is_refused_before_postgres_naming_it(real_postgres_manager, log_id):
    with pytest.raises(InvalidValue) as refused:
        real_postgres_manager.get_generation(log_id)
    assert f"log id {log_id!r} is not a generation's id" in refused.value.message
    assert refused.value.http_status == 422 and refused.value.exit_code == 2


def test_the_largest_log_id_is_looked_up_not_refused(real_postgres_manager):
    assert real_postgres_manager.get_generation(MAX_LOG_ID) is None


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_jobs_limit_out_of_range_is_refused_naming_it(real_postgres_manager, limit):
    with pytest.raises(InvalidValue) as refused:
        JobStore(real_postgres_manager).recent(limit)
    assert f"limit {limit!r}" in refused.value.message


def test_a_malformed_job_id_is_no_job_not_a_postgres_error(real_postgres_manager):
    assert JobStore(real_postgres_manager).get("not-a-uuid") is None
    assert JobStore(real_postgres_manager).cancel("not-a-uuid") is None


@pytest.mark.parametrize(("argv", "said"), [
    ([b"workflow", b"--resume", b"ab\xffcd", b"--in-process"], "--resume 'ab\\udcffcd' holds bytes that are not UTF-8"),
    ([b"generate", b"add \xff numbers", b"--in-process"], "the request 'add \\udcff numbers' holds bytes that are not"),
], ids=["resume-id", "request"])
def test_an_argument_with_bytes_that_are_not_utf8_exits_2_naming_them(argv, said):
    # before: the text reached Postgres's driver, and the command died as an internal error (exit 1)
    done = subprocess.run([CLI.encode(), *argv], capture_output=True, timeout=110, check=False,
                          env={**os.environ, "DEVMATRIX_ENV_FILE": str(env_file_path())})
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 2, err
    assert said in err


@pytest.mark.parametrize(("path", "field", "said"), [
    ("/api/v1/jobs/not-a-uuid", "path.job_id", "Input should be a valid UUID"),
    (f"/api/v1/generations/{MAX_LOG_ID + 1}", "path.log_id", f"less than or equal to {MAX_LOG_ID}"),
    ("/api/v1/generations/0", "path.log_id", "greater than or equal to 1"),
])
def test_the_api_refuses_an_id_postgres_would_reject_with_a_422_naming_it(settings, path, field, said):
    response = requests.get(f"{settings.api_url}{path}", timeout=10,
                            headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert [f["field"] for f in body["fields"]] == [field] and said in body["message"]
