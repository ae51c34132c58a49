"""What an error body tells the client beyond its status: why a JSON body did not parse, the
value it sent (shortened, never the whole body), a route's own 404 text and fix, and that an
early 413 closes the connection whose body was never read."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

GENERATE = "/api/v1/generate"


def test_malformed_json_names_the_parsers_reason_not_only_that_it_failed(client, auth):
    response = client.post(GENERATE, content=b'{"request": "x", ', headers={**auth, "content-type": "application/json"})
    assert response.status_code == 422
    problem = response.json()["fields"][0]
    assert problem["message"] == ("the body is not valid JSON: Expecting property name enclosed in double quotes"
                                  " at character 17")


def test_a_missing_field_is_named_without_echoing_the_rest_of_the_body(client, auth):
    response = client.post(GENERATE, json={"workspace_id": "w-secret-text"}, headers=auth)
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "body.request", "type": "missing", "message": "Field required"}]
    assert "w-secret-text" not in response.text


def test_a_long_invalid_value_is_quoted_shortened_to_80_characters(client, auth):
    value = "../" + "a" * 300
    response = client.post(GENERATE, json={"request": "x", "workspace_id": value}, headers=auth)
    assert response.status_code == 422
    message = response.json()["fields"][0]["message"]
    assert message.endswith(f"(got {repr(value)[:80]}…)")
    assert value not in response.text


class _NoSuchRow:
    """The injected Postgres: up, and without the row asked for."""

    def get_generation(self, log_id: int) -> None:
        return None


def test_a_generation_that_does_not_exist_is_a_404_with_the_routes_own_message_and_fix(client, auth):
    client.app.state.resources.postgres = _NoSuchRow
    response = client.get("/api/v1/generations/7", headers=auth)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["message"] == "no generation with id 7"
    assert body["fix"] == "use the log_id returned by POST /api/v1/generate"


def test_a_body_refused_by_its_declared_size_closes_the_connection(client):
    """The body was never read, so the connection cannot carry another request."""
    response = client.post(GENERATE, content=b"x" * 2048, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert int(response.headers["content-length"]) == len(response.content)
