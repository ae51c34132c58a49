"""Backpressure: a bounded number of generations, and a 429 with Retry-After beyond it."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from devmatrix.api import create_app
from devmatrix.api._constants import API_POOL_READ_CONNECTIONS, GENERATION_RETRY_AFTER_S
from devmatrix.api.slots import GenerationSlots, generation_limit
from devmatrix.config import Settings
from devmatrix.errors import ServiceBusy, ServiceError
from devmatrix.llm._constants import LOCAL_PARALLEL_SLOTS
from devmatrix.monitoring.metrics import REGISTRY

pytestmark = pytest.mark.unit

GENERATE = "/api/v1/generate"
BODY = {"request": "Write add(a, b)", "workspace_id": "unit-slots"}


def running() -> float:
    return REGISTRY.get_sample_value("api_generations_running") or 0.0


def refused() -> float:
    return REGISTRY.get_sample_value("api_generations_refused_total") or 0.0


def test_the_default_limit_is_what_the_llm_backend_serves_at_once():
    assert generation_limit(Settings(llm_backend="local")) == LOCAL_PARALLEL_SLOTS == 2
    paid = Settings(llm_backend="anthropic", anthropic_api_key="sk-ant-unit")  # pragma: allowlist secret
    assert generation_limit(paid) == 4
    assert generation_limit(Settings(llm_backend="local", api_max_concurrent_generations=5)) == 5


def test_slots_admit_up_to_the_limit_then_refuse_at_once_and_free_on_exit():
    slots = GenerationSlots(2, source="API_MAX_CONCURRENT_GENERATIONS=2")
    before_running, before_refused = running(), refused()
    with ExitStack() as held:
        held.enter_context(slots.hold())
        held.enter_context(slots.hold())
        assert running() == before_running + 2
        with pytest.raises(ServiceBusy) as busy, slots.hold():
            pytest.fail("a third generation ran beside two with a limit of 2")
        assert refused() == before_refused + 1
    assert running() == before_running
    error = busy.value
    assert isinstance(error, ServiceError) and error.service == "api"
    assert (error.http_status, error.exit_code, error.retry_after_s) == (429, 4, GENERATION_RETRY_AFTER_S)
    assert "all 2 generation slots are in use (API_MAX_CONCURRENT_GENERATIONS=2)" in error.message
    assert "infra." not in error.fix and "nothing needs a restart" in error.fix
    with slots.hold(), slots.hold():  # both slots came back
        pass


def test_a_generation_that_fails_gives_its_slot_back():
    slots = GenerationSlots(1)
    with pytest.raises(RuntimeError), slots.hold():
        raise RuntimeError("the generation crashed")
    with slots.hold():
        pass


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(limit):
    with pytest.raises(ValueError, match="run one generation"):
        GenerationSlots(limit)


def test_busy_needs_a_retry_after_of_at_least_one_second():
    with pytest.raises(ValueError, match="Retry-After"):
        ServiceBusy("api", "busy", retry_after_s=0)


def test_the_apis_pool_is_sized_to_its_slots(api_settings):
    app = create_app(api_settings.model_copy(update={"api_max_concurrent_generations": 3}))
    resources = app.state.resources
    assert resources.generation_slots.limit == 3
    assert resources.pool_size == 3 + API_POOL_READ_CONNECTIONS


def test_a_request_beyond_the_limit_is_429_with_retry_after_and_never_starts(client, auth):
    resources = client.app.state.resources
    slots, starts = resources.generation_slots, []

    def postgres_down():  # the generation's first step, in its thread: an injected outage, at once
        starts.append(1)
        raise ServiceError("postgres", "injected outage")

    resources.postgres = postgres_down
    with ExitStack() as held:
        for _ in range(slots.limit):
            held.enter_context(slots.hold())
        response = client.post(GENERATE, json=BODY, headers=auth)
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(GENERATION_RETRY_AFTER_S)
    body = response.json()
    assert body["error"] == "too_many_requests" and body["service"] == "api"
    assert body["message"].startswith("api: busy: all 2 generation slots are in use")
    assert body["fix"] and "infra." not in body["fix"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert starts == []  # refused before the generation's thread ran
    # with a slot free the same request starts (and meets the injected outage)
    started = client.post(GENERATE, json=BODY, headers=auth)
    assert started.status_code == 503 and started.json()["service"] == "postgres"
    assert len(starts) == 1 and running() == 0


def test_the_limit_setting_is_the_apis_limit(api_settings, auth):
    app = create_app(api_settings.model_copy(update={"api_max_concurrent_generations": 1}))
    with TestClient(app) as one, app.state.resources.generation_slots.hold():
        response = one.post(GENERATE, json=BODY, headers=auth)
    assert response.status_code == 429
    assert "all 1 generation slots are in use (API_MAX_CONCURRENT_GENERATIONS=1)" in response.json()["message"]
