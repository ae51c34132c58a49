"""The bearer token guards every route that spends money, changes state or reads a generation,
not only /generate; every other route answers without one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

# (method, route template, a concrete path): every route that needs `Authorization: Bearer <API_TOKEN>`
PROTECTED = [
    ("POST", "/api/v1/generate", "/api/v1/generate"),
    ("POST", "/api/v1/health/circuit-breaker/reset", "/api/v1/health/circuit-breaker/reset"),
    ("GET", "/api/v1/generations/{log_id}", "/api/v1/generations/1"),
    ("POST", "/api/v1/jobs", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{job_id}", "/api/v1/jobs/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/api/v1/jobs/{job_id}", "/api/v1/jobs/00000000-0000-0000-0000-000000000000"),
]
OPEN = [("GET", "/api/v1/health/live"), ("GET", "/api/v1/health/ready"), ("GET", "/api/v1/health/circuit-breaker"),
        ("GET", "/api/v1/metrics/prometheus"), ("GET", "/openapi.json"), ("GET", "/docs")]
WRONG = [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dXNlcjpwYXNz"},
         {"Authorization": "Bearer "}]


def test_the_schema_names_exactly_these_routes_as_needing_the_token(client):
    paths = client.get("/openapi.json").json()["paths"]
    protected = {(method.upper(), path) for path, operations in paths.items()
                 for method, operation in operations.items() if operation.get("security")}
    assert protected == {(method, template) for method, template, _ in PROTECTED}


@pytest.mark.parametrize("headers", WRONG, ids=["none", "wrong", "basic", "empty"])
@pytest.mark.parametrize(("method", "path"), [(m, p) for m, _, p in PROTECTED], ids=[t for _, t, _ in PROTECTED])
def test_every_protected_route_refuses_a_missing_or_wrong_token(client, method, path, headers):
    response = client.request(method, path, headers=headers, json={"request": "x", "workspace_id": "w"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert "wrong-token" not in response.text and "dXNlcjpwYXNz" not in response.text


def test_the_right_token_passes_the_check(client, auth):
    # (the other two go on to the LLM and Postgres, which are down here: their own tests cover that)
    response = client.post("/api/v1/health/circuit-breaker/reset", headers=auth)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path"), OPEN)
def test_the_other_routes_answer_without_a_token(client, method, path):
    response = client.request(method, path)
    assert response.status_code == (503 if path.endswith("/ready") else 200), response.text  # ready: no services
