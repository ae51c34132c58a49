"""The API served for real: uvicorn on a free loopback port, in a thread of the test process,
with a Celery worker of its own in a real process (python -m devmatrix.jobs.worker).

The app and its worker get the session's settings (the real stack) except for the workspace
directory, which is a temp dir, so a test's generations leave no files behind, and a queue of
their own (WORKER_QUEUE), so the test's jobs run on its worker with the same overrides as its
API (a closed LLM port, RAG off, ...), never on the stack's workers; the rows they log are
deleted afterwards.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest
import redis
import requests
import uvicorn
from fastapi import FastAPI

from _fixtures.workers import worker_process
from devmatrix.api import create_app
from devmatrix.config import Settings, env_file_path
from devmatrix.errors import ServiceError
from devmatrix.jobs import service as workers
from devmatrix.jobs.app import broker_url
from devmatrix.stack import get_provider
from devmatrix.stack.system import free_port
from devmatrix.state.postgres import PostgresManager

START_TIMEOUT_S = 10.0
WORKERS_RECONNECT_S = 60.0  # the stack's workers back on their broker after a Redis restart


@dataclass
class LiveAPI:
    url: str
    app: FastAPI
    settings: Settings
    http: requests.Session

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_token.get_secret_value()}"}


@pytest.fixture
def closed_port() -> Callable[[], int]:
    """closed_port() → a loopback port nothing listens on (bound, then released)."""
    return free_port


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a socket we bound (no port race); yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port} within {START_TIMEOUT_S} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


def drop_queue(settings: Settings, queue: str) -> None:
    """Delete the test's queue from the stack's broker (jobs its worker never took)."""
    with redis.Redis.from_url(broker_url(settings)) as broker:
        broker.delete(queue)


@pytest.fixture
def start_api(settings: Settings, tmp_path, idle_llm: None) -> Iterator[Callable[..., LiveAPI]]:
    """start_api(**overrides) → a served app whose settings differ from the session's by
    ``overrides``, and a worker process with the same settings that runs its jobs
    (``with_worker=False``: none; its jobs stay queued)."""
    with ExitStack() as stack:
        def start(*, with_worker: bool = True, **overrides: object) -> LiveAPI:
            queue = f"t{uuid.uuid4().hex[:10]}"
            overrides = {"workspace_dir": tmp_path / "workspaces", "worker_queue": queue, **overrides}
            app_settings = settings.model_copy(update=overrides)
            stack.callback(drop_queue, settings, queue)  # after the worker stopped: what it left queued
            if with_worker:
                stack.enter_context(worker_process(settings, overrides, tmp_path / f"{queue}.log",
                                                   name=f"test-{queue}"))
            app = create_app(app_settings)
            url = stack.enter_context(serve(app))
            http = stack.enter_context(requests.Session())
            return LiveAPI(url, app, app_settings, http)

        yield start


@pytest.fixture
def live_api(start_api) -> LiveAPI:
    return start_api()


@pytest.fixture
def generation_rows(settings: Settings) -> Iterator[PostgresManager]:
    """Postgres; every code_generation_logs row written during the test is deleted after it."""
    manager = PostgresManager(settings=settings)
    (before,) = manager.execute("SELECT COALESCE(MAX(id), 0) AS id FROM code_generation_logs")
    manager.before = before["id"]  # type: ignore[attr-defined]
    yield manager
    manager.execute("DELETE FROM code_generation_logs WHERE id > %s AND workspace_id LIKE 'api-test-%%'",
                    (before["id"],))
    manager.execute("DELETE FROM jobs WHERE request->>'workspace_id' LIKE 'api-test-%%'")
    manager.close()



@pytest.fixture
def stop_service(settings: Settings) -> Iterator[Callable[[str], None]]:
    """stop_service(name) stops one service of this stack (what `invoke infra.down -s name`
    runs); whatever the test does, every service stopped is started again after it."""
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _: None)
    stopped: list[str] = []

    def stop(name: str) -> None:
        stopped.append(name)
        provider.down((name,))

    try:
        yield stop
    finally:
        if stopped:
            provider.up(tuple(stopped))
            if "redis" in stopped:  # the stack's workers reconnect to their broker on their own: wait for it
                deadline = time.monotonic() + WORKERS_RECONNECT_S
                while True:
                    try:
                        workers.readiness(settings)
                        break
                    except ServiceError:
                        assert time.monotonic() < deadline, f"no worker back within {WORKERS_RECONNECT_S:g} s"
                        time.sleep(0.5)
