"""SharedScratchpad on the real Redis and Postgres."""

from __future__ import annotations

import uuid

import pytest

from devmatrix.errors import ServiceError
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import SharedScratchpad, TaskRecord

pytestmark = pytest.mark.integration


@pytest.fixture
def scratchpad(settings):
    redis_manager = RedisManager(settings=settings)
    postgres = PostgresManager(settings=settings)
    pad = SharedScratchpad(redis_manager, postgres)
    workflow_id = f"wf-test-{uuid.uuid4().hex[:8]}"
    pad.start_workflow(workflow_id, "req", "ws", {"tasks": []}, "explicit")
    yield pad, workflow_id
    pad.clear(workflow_id)
    postgres.execute("DELETE FROM workflows WHERE workflow_id = %s", (workflow_id,))
    postgres.close()
    redis_manager.close()


def test_task_state_and_messages_live_in_redis_with_a_ttl(scratchpad):
    pad, workflow_id = scratchpad
    pad.set_state(workflow_id, "model", status="running", files=["a.py"])
    pad.post_message(workflow_id, "model", "done with the model")
    assert pad.get_state(workflow_id, "model") == {"status": "running", "files": ["a.py"]}
    assert pad.messages(workflow_id) == [{"from": "model", "text": "done with the model"}]
    keys = pad.live_keys(workflow_id)
    assert len(keys) == 2
    assert all(0 < pad.redis.client.ttl(k) <= 24 * 3600 for k in keys)
    assert pad.clear(workflow_id) == 2 and pad.live_keys(workflow_id) == []


def test_completed_tasks_persist_in_postgres_and_come_back(scratchpad):
    pad, workflow_id = scratchpad
    done = TaskRecord("model", "implementation", "completed", artifact="x = 1",
                      files=["model.py"], git_commit_hash="a" * 40, input_tokens=3,
                      output_tokens=4, cost_usd=0.25, started_at="2026-11-24T00:00:00+00:00",
                      finished_at="2026-11-24T00:00:01+00:00", duration_s=1.0)
    pad.persist_task(workflow_id, done)
    pad.persist_task(workflow_id, TaskRecord("api", "api", "failed", error="boom"))
    back = pad.completed_tasks(workflow_id)
    assert list(back) == ["model"]
    assert back["model"].files == ["model.py"] and back["model"].git_commit_hash == "a" * 40
    assert back["model"].cost_usd == 0.25 and back["model"].artifact == "x = 1"


def test_redis_down_is_a_service_error_not_a_local_substitute(settings):
    with pytest.raises(ServiceError, match=r"cannot reach Redis at 127\.0\.0\.1:1\b"):
        RedisManager(host="127.0.0.1", port=1, settings=settings)
