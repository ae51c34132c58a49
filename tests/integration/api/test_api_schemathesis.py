"""Schemathesis fuzzes the live OpenAPI schema: no 5xx, no response that breaks the schema.

POST /api/v1/generate is excluded: each accepted case is a real LLM generation
(seconds each, and schemathesis sends valid cases even in negative mode); its
validation, auth and limits are tested case by case in test_api_generate_live.py.
The app runs with no worker on its queue: the jobs POST /api/v1/jobs accepts stay queued
(GET and DELETE exercise them), run nothing, and are deleted afterwards. DELETE cancels a
job, which stays readable as `cancelled` (issue 24): schemathesis's use_after_free check,
which expects a 404 after a DELETE, does not apply.
One generation row is inserted first and named in a schemathesis.toml, so
GET /generations/{log_id} is exercised on a row that exists (its 200 body checked
against the schema), not only on 404s.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
MAX_EXAMPLES = 40


def _insert_generation(rows) -> int:
    (row,) = rows.execute(
        "INSERT INTO code_generation_logs (workspace_id, user_request, generated_code, approval_status,"
        " quality_score, success, model, backend, input_tokens, output_tokens, cost_usd, latency_s)"
        " VALUES ('api-test-schemathesis', 'fizzbuzz', 'def fizzbuzz(n): ...', 'approved', 8.0, true,"
        " 'smollm2-135m-instruct', 'local', 10, 20, 0, 0.5) RETURNING id")
    return row["id"]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(start_api, generation_rows, tmp_path):
    live_api = start_api(with_worker=False)
    (started,) = generation_rows.execute("SELECT NOW() AS at")
    log_id = _insert_generation(generation_rows)
    (tmp_path / "schemathesis.toml").write_text(
        '[[operations]]\ninclude-name = "GET /api/v1/generations/{log_id}"\n'
        f"parameters = {{ log_id = {log_id} }}\n")
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    token = live_api.settings.api_token.get_secret_value()
    result = subprocess.run(
        [st, "run", f"{live_api.url}/openapi.json", "--checks", "all", "--exclude-checks", "use_after_free",
         "--max-examples", str(MAX_EXAMPLES),
         "--exclude-path", "/api/v1/generate", "--header", f"Authorization: Bearer {token}",
         "--workers", "1", "--request-timeout", "20", "--max-failures", "5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=110, check=False,
    )
    output = result.stdout + result.stderr
    generation_rows.execute("DELETE FROM jobs WHERE created_at >= %s AND attempts = 0", (started["at"],))
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-6000:]}"
    assert "No issues found" in output, output[-4000:]
    assert "Tested: 9" in output  # every operation but /generate was exercised
