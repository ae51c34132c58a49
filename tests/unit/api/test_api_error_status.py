"""Each error class leaves the API with its own status and code: a model's failure or a spent
budget is a 502, an outage a 503 with Retry-After, a busy service a 429; only a bug is a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from devmatrix.api import create_app
from devmatrix.errors import (
    BudgetExceeded,
    CircuitOpen,
    CollectionMissing,
    ConfigError,
    DevMatrixError,
    EvidenceError,
    LLMError,
    NotSetUp,
    RAGDisabled,
    RejectedByReview,
    ServiceBusy,
    ServiceError,
    UnknownModel,
    WorkspaceError,
)

pytestmark = pytest.mark.unit

# (the error raised by a route, status, error code, Retry-After)
CASES = [
    (LLMError("the model's server answered 500"), 502, "bad_gateway", None),
    (BudgetExceeded("dollar budget would be exceeded", fix="raise LLM_BUDGET_USD"), 502, "bad_gateway", None),
    (RejectedByReview("score 3 < 7"), 502, "bad_gateway", None),
    (UnknownModel("no price for model x"), 502, "bad_gateway", None),
    (ServiceError("postgres", "cannot connect"), 503, "service_unavailable", "30"),
    (CircuitOpen("the breaker is open"), 503, "service_unavailable", "30"),
    (EvidenceError("the sandbox is unavailable"), 503, "service_unavailable", "30"),
    (ServiceBusy("api", "every generation slot is in use", retry_after_s=7), 429, "too_many_requests", "7"),
    (NotSetUp("the collection was never seeded"), 409, "conflict", None),
    (CollectionMissing("no collection devmatrix"), 409, "conflict", None),
    (RAGDisabled("RAG_ENABLED=false"), 409, "conflict", None),
    (WorkspaceError("git commit failed"), 500, "internal_error", None),
    (ConfigError(["X=1 is wrong"], source=".env.test"), 500, "internal_error", None),
    (DevMatrixError("something of ours"), 500, "internal_error", None),
]


@pytest.fixture
def raising(api_settings):
    """The app, with one more route that raises what the test puts in ``errors[0]``."""
    app = create_app(api_settings)
    errors: list[Exception] = []

    @app.get("/raise")
    def _raise() -> None:
        raise errors[0]

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, errors


@pytest.mark.parametrize(("error", "status", "code", "retry_after"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_error_class_has_its_status_code_and_retry_after(raising, error, status, code, retry_after):
    client, errors = raising
    errors.append(error)
    response = client.get("/raise")
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["message"] == error.message and body["fix"] == error.fix
    assert body["service"] == (error.service if isinstance(error, ServiceError) else None)
    assert response.headers.get("retry-after") == retry_after
    assert body["request_id"] == response.headers["x-request-id"]


def test_a_bug_is_a_500_naming_its_type_never_its_message(raising):
    client, errors = raising
    errors.append(KeyError("sk-ant-secret-in-a-bug"))  # pragma: allowlist secret - a fake key
    response = client.get("/raise")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and body["message"] == "internal error (KeyError)"
    assert "sk-ant-secret" not in response.text and "retry-after" not in response.headers
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"]
