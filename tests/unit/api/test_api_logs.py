"""One JSON log line per request, with its request id; API keys and tokens never in a log."""

from __future__ import annotations

import json

import pytest
import structlog
from fastapi.testclient import TestClient

from devmatrix.api import create_app
from devmatrix.config import Settings
from devmatrix.monitoring import logging as devmatrix_logging

pytestmark = pytest.mark.unit

API_TOKEN = "tok-9f8e7d6c5b4a39281706"
ANTHROPIC_KEY = "sk-ant-api03-unitTESTsecretVALUE0123456789"  # pragma: allowlist secret - a fake key
LOCAL_KEY = "local-llm-key-31415926535"


@pytest.fixture
def json_logs(monkeypatch, capsys):
    """structlog configured as at an entry point (JSON, redaction); its stderr captured."""
    monkeypatch.setattr(devmatrix_logging, "_configured", False)
    devmatrix_logging.configure_logging(Settings(log_format="json"), force=True)
    structlog.configure(cache_logger_on_first_use=False)
    yield lambda: capsys.readouterr().err
    structlog.reset_defaults()


def test_secrets_sent_or_configured_never_reach_the_log(tmp_path, json_logs):
    settings = Settings(api_token=API_TOKEN, anthropic_api_key=ANTHROPIC_KEY, llm_local_api_key=LOCAL_KEY,
                        llm_backend="local", llm_port=1, postgres_port=2, redis_port=3, chromadb_port=4,
                        workspace_dir=tmp_path)
    right = {"Authorization": f"Bearer {API_TOKEN}"}
    with TestClient(create_app(settings)) as client:
        sent = [
            client.post("/api/v1/health/circuit-breaker/reset", headers=right),
            client.post("/api/v1/generate", headers={"Authorization": f"Bearer {ANTHROPIC_KEY}"},
                        json={"request": "x", "workspace_id": "w"}),
            client.get(f"/api/v1/health/live?api_key={ANTHROPIC_KEY}&token={API_TOKEN}", headers=right),
            client.post("/api/v1/generate", headers=right, json={"request": "x", "workspace_id": API_TOKEN + "/.."}),
            client.get(f"/api/v1/{API_TOKEN}"),
        ]
    output = json_logs()
    for secret in (API_TOKEN, ANTHROPIC_KEY, LOCAL_KEY):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]
    requests = [line for line in lines if line["event"] == "http_request"]
    assert [line["request_id"] for line in requests] == [r.headers["x-request-id"] for r in sent]
    assert [line["status"] for line in requests] == [200, 401, 200, 422, 404]
    assert all(line["level"] == "info" and "duration_ms" in line for line in requests)
    assert any(line["event"] == "circuit_breaker_reset" for line in lines)
