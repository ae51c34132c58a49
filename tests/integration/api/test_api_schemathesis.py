"""Schemathesis fuzzes the live OpenAPI schema: no 5xx, no response that breaks the schema.

POST /api/v1/generate is excluded: each accepted case is a real LLM generation
(seconds each, and schemathesis sends valid cases even in negative mode); its
validation, auth and limits are tested case by case in test_api_generate_live.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
MAX_EXAMPLES = 40


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_api, tmp_path):
    st = shutil.which("st") or str(Path(__import__("sys").executable).parent / "st")
    token = live_api.settings.api_token.get_secret_value()
    result = subprocess.run(
        [st, "run", f"{live_api.url}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
         "--exclude-path", "/api/v1/generate", "--header", f"Authorization: Bearer {token}",
         "--workers", "1", "--request-timeout", "20", "--max-failures", "5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=110, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-6000:]}"
    assert "No issues found" in output
    assert "Tested: 6" in output  # every operation but /generate was exercised
