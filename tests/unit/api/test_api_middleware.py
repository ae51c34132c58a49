"""Every request gets an id, is counted under its route template, and is timed."""

from __future__ import annotations

import pytest

from devmatrix.api._constants import UNMATCHED_ROUTE
from devmatrix.monitoring.metrics import HTTP_REQUESTS, REGISTRY

pytestmark = pytest.mark.unit


def count(method: str, route: str, status: str) -> float:
    return REGISTRY.get_sample_value("http_requests_total", {"method": method, "route": route, "status": status}) or 0


def test_a_valid_client_request_id_is_echoed_and_anything_else_replaced(client):
    assert client.get("/api/v1/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = client.get("/api/v1/health/live", headers={"X-Request-ID": "two words"}).headers["x-request-id"]
    assert replaced != "two words" and len(replaced) == 32
    first, second = (client.get("/api/v1/health/live").headers["x-request-id"] for _ in range(2))
    assert first != second


def test_requests_are_counted_by_route_template_not_raw_path(client, auth):
    before = count("GET", "/api/v1/generations/{log_id}", "422")
    client.get("/api/v1/generations/abc", headers=auth)
    client.get("/api/v1/generations/xyz", headers=auth)
    assert count("GET", "/api/v1/generations/{log_id}", "422") == before + 2
    unmatched = count("GET", UNMATCHED_ROUTE, "404")
    client.get("/random/1")
    client.get("/random/2")
    assert count("GET", UNMATCHED_ROUTE, "404") == unmatched + 2
    routes = {labels[1] for labels in HTTP_REQUESTS._metrics}  # (method, route, status)
    assert not any(route.startswith("/random") or route.endswith(("abc", "xyz")) for route in routes)


def test_unusual_methods_share_one_label(client):
    before = count("other", "/api/v1/health/live", "405")
    client.request("PROPFIND", "/api/v1/health/live")
    assert count("other", "/api/v1/health/live", "405") == before + 1


def test_refused_bodies_and_non_api_routes_keep_their_template(client):
    before = count("POST", "/api/v1/generate", "413")
    client.post("/api/v1/generate", content=b"x" * 4096)
    assert count("POST", "/api/v1/generate", "413") == before + 1
    before = count("GET", "/openapi.json", "200")
    client.get("/openapi.json")
    assert count("GET", "/openapi.json", "200") == before + 1


def test_each_request_is_timed_in_the_histogram(client):
    labels = {"method": "GET", "route": "/api/v1/health/live"}
    before = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0
    client.get("/api/v1/health/live")
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) == before + 1
