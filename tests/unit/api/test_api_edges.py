"""The API's edges: every 401 challenges for a bearer token, a body exactly at the limit is
accepted (one byte more is 413, a declared size refused before the body is read), and /ready
says what failed for each service."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from devmatrix.api import create_app
from devmatrix.config import Settings

pytestmark = pytest.mark.unit

GENERATE = "/api/v1/generate"
LIMIT = 1024  # the `client` fixture's max_body_bytes


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["missing", "wrong"])
def test_every_401_challenges_for_a_bearer_token(client, headers):
    response = client.post("/api/v1/health/circuit-breaker/reset", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_an_api_without_a_token_challenges_too_and_says_how_to_set_one():
    with TestClient(create_app(Settings(api_token="", llm_port=1))) as client:
        response = client.post("/api/v1/health/circuit-breaker/reset", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["fix"] == "set API_TOKEN in .env.test and restart the api service"


def _json_of_size(size: int) -> bytes:
    body = json.dumps({"request": "", "workspace_id": "w"}).encode()
    return json.dumps({"request": "y" * (size - len(body)), "workspace_id": "w"}).encode()


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
def test_a_body_exactly_at_the_limit_passes_and_one_byte_more_is_413(client, streamed):
    for size, status in ((LIMIT, 401), (LIMIT + 1, 413)):  # 401: past the size check, at the token check
        body = _json_of_size(size)
        assert len(body) == size
        content = (body[i:i + 100] for i in range(0, size, 100)) if streamed else body
        response = client.post(GENERATE, content=content, headers={"content-type": "application/json"})
        assert response.status_code == status, (size, response.text)


def test_a_declared_size_over_the_limit_is_refused_by_its_header_before_any_byte_is_read(client):
    response = client.post(GENERATE, content=b"x" * 2048, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["message"] == "the request body is 2,048 bytes; the limit is 1,024 bytes"


def test_ready_names_each_failed_service_with_its_error(client, api_settings):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and {"postgres", "redis", "chroma", "llm"} <= set(body["failed"])
    checks = body["checks"]
    assert checks["postgres"]["detail"].startswith("postgres: ") and ":2" in checks["postgres"]["detail"]
    assert checks["redis"]["detail"].startswith("redis: no PONG from 127.0.0.1:3")
    assert checks["chroma"]["detail"].startswith("chroma: ") and ":4" in checks["chroma"]["detail"]
    assert not any(check["ok"] for check in checks.values())
