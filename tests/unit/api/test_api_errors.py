"""Bad input gets a JSON error naming what failed, the value and the fix; never HTML, never a 500."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.unit

GENERATE = "/api/v1/generate"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code and body["message"] and body["fix"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_route_is_a_json_404_naming_the_path(client):
    body = assert_error(client.get("/api/v1/nope/42"), 404, "not_found")
    assert "/api/v1/nope/42" in body["message"]


def test_wrong_method_is_a_json_405_with_the_allowed_methods(client):
    response = client.delete("/api/v1/health/live")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_generate_without_the_right_token_is_401_before_anything_runs(client, headers):
    response = client.post(GENERATE, json={"request": "x", "workspace_id": "w"}, headers=headers)
    body = assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "wrong-token" not in response.text and "dXNlcjpwYXNz" not in response.text
    assert "API_TOKEN" in body["fix"] or "Authorization" in body["fix"]


def test_an_empty_configured_token_refuses_every_token():
    from fastapi.testclient import TestClient

    from devmatrix.api import create_app
    from devmatrix.config import Settings

    with TestClient(create_app(Settings(api_token="", llm_port=1))) as client:
        response = client.post("/api/v1/health/circuit-breaker/reset", headers={"Authorization": "Bearer x"})
    body = assert_error(response, 401, "unauthorized")
    assert "API_TOKEN" in body["fix"]


def test_malformed_json_is_422_naming_the_body_and_the_position(client, auth):
    response = client.post(GENERATE, content=b'{"request": "x", ', headers={**auth, "content-type": "application/json"})
    body = assert_error(response, 422, "validation_failed")
    assert body["fields"][0]["field"] == "body" and body["fields"][0]["type"] == "json_invalid"
    assert "character 17" in body["message"]


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"workspace_id": "w"}, "body.request", "required"),
    ({"request": "   ", "workspace_id": "w"}, "body.request", "pattern"),
    # schemathesis found it: Postgres stores no NUL, and a job with one was a 503 naming Postgres
    ({"request": "add(a, b)\u0000", "workspace_id": "w"}, "body.request", "pattern"),
    ({"request": "x", "workspace_id": "../etc"}, "body.workspace_id", "'../etc'"),
    ({"request": "x", "workspace_id": "a..b"}, "body.workspace_id", "'..'"),
    ({"request": "x", "workspace_id": "w", "git_enabled": "yes"}, "body.git_enabled", "boolean"),
    ({"request": "x", "workspace_id": "w", "base_path": "/"}, "body.base_path", "not permitted"),
])
def test_an_invalid_field_is_422_naming_the_field_and_value(client, auth, payload, field, words):
    body = assert_error(client.post(GENERATE, json=payload, headers=auth), 422, "validation_failed")
    assert [f["field"] for f in body["fields"]] == [field]
    assert words in body["message"]


def test_a_path_parameter_out_of_range_is_422_not_a_server_error(client, auth):
    for value in ("abc", "0", str(2**31)):
        body = assert_error(client.get(f"/api/v1/generations/{value}", headers=auth), 422, "validation_failed")
        assert body["fields"][0]["field"] == "path.log_id"


def test_a_declared_body_over_the_limit_is_413_before_auth_or_parsing(client):
    response = client.post(GENERATE, content=b"x" * 2048, headers={"content-type": "application/json"})
    body = assert_error(response, 413, "body_too_large")
    assert "2,048 bytes" in body["message"] and "1,024" in body["message"]


def test_a_streamed_body_over_the_limit_is_413_too(client, auth):
    payload = json.dumps({"request": "y" * 2000, "workspace_id": "w"}).encode()
    chunks = (payload[i:i + 300] for i in range(0, len(payload), 300))  # no Content-Length: chunked
    response = client.post(GENERATE, content=chunks, headers={**auth, "content-type": "application/json"})
    body = assert_error(response, 413, "body_too_large")
    assert "streamed" in body["message"]


def test_a_postgres_pool_with_every_connection_in_use_is_429_not_a_503(client, auth):
    """psycopg2's PoolError, mapped in devmatrix.clients (the one place), reaches the client as busy."""
    import psycopg2.pool

    from devmatrix import clients

    def exhausted():
        raise clients.postgres_error("devmatrix@127.0.0.1:1/devmatrix_test", "cannot get a connection",
                                     psycopg2.pool.PoolError("connection pool exhausted"))

    client.app.state.resources.postgres = exhausted  # the injected failure: a pool with none free
    for response in (client.post(GENERATE, json={"request": "Write add(a, b)", "workspace_id": "w"}, headers=auth),
                     client.get("/api/v1/generations/1", headers=auth)):
        body = assert_error(response, 429, "too_many_requests")
        assert response.headers["retry-after"] == "1" and body["service"] == "postgres"
        assert "busy, not down" in body["message"] and "infra." not in body["fix"]



def test_a_statement_postgres_rejected_is_a_500_bug_never_a_503_outage(client, auth):
    """A DataError (the server is up and refused a value) is not 'postgres unreachable': no 503, no
    Retry-After, no restart in the fix; the message names what Postgres refused."""
    import psycopg2.errors

    from devmatrix import clients

    def rejecting():
        raise clients.postgres_error("devmatrix@127.0.0.1:1/devmatrix_test", "query failed",
                                     psycopg2.errors.NumericValueOutOfRange("integer out of range"))

    client.app.state.resources.postgres = rejecting  # the injected failure: a statement refused
    response = client.get("/api/v1/generations/1", headers=auth)
    body = assert_error(response, 500, "internal_error")
    assert "retry-after" not in response.headers and body["service"] is None
    assert "integer out of range" in body["message"] and "NumericValueOutOfRange" in body["message"]
    assert "this is a bug" in body["fix"] and "do not restart" in body["fix"]


def test_retry_after_says_when_for_busy_and_30_s_for_an_outage():
    from devmatrix.api.error_handlers import retry_after
    from devmatrix.errors import LLMError, ServiceBusy, ServiceError

    assert retry_after(ServiceBusy("api", "busy", retry_after_s=7)) == "7"
    assert retry_after(ServiceError("postgres", "cannot connect")) == "30"
    assert retry_after(LLMError("the model's reply was cut")) is None


def test_a_405_allows_every_method_of_the_path_not_only_the_first_routes(client):
    response = client.put("/api/v1/jobs/d5fbf7fe-e2bd-4a10-a2d0-40ad1e94cf04")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "DELETE, GET"
