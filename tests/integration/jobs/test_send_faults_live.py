"""Sending a job while Redis restarts, or waiting on one while Redis is frozen, on the real broker:
a ServiceError naming redis, never a crash and never a silent wait.

The restart is played by a TCP relay between the job client and the stack's Redis (the injected
network failure): it drops the connection that carries the job's LPUSH (the server dies in the
middle of the publish), then the one that carries kombu's re-declaration of the queue after its
reconnect (SADD: the restarting server goes away once more). kombu 5.7.0 then publishes on the
channel its own second reconnect closed: AttributeError ``'NoneType' object has no attribute
'client'`` (the chaos case redis-kill-during-workflow, seen on a machine at load ~8).

A frozen Redis (SIGSTOP) is the relay holding every byte it is sent: connections are accepted (the
kernel does that for a stopped server too) and nothing is answered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from devmatrix import deadlines
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.jobs.submit import JobClient
from devmatrix.state.postgres import PostgresManager

pytestmark = [pytest.mark.integration, pytest.mark.real_services]


class _Relay:
    """127.0.0.1:port -> Redis, one thread per direction; ``drops`` (a command -> n): the next n
    connections that send that command are closed instead (both ends)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.drops: dict[bytes, int] = {}  # a command -> how many more connections sending it to drop
        self.frozen = False  # True: nothing sent through is passed on (a SIGSTOPped server)
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    drop = outbound and next((c for c, n in self.drops.items() if n and c in data), None)
                    if drop:
                        self.drops[drop] -= 1
                if drop:
                    break
                if outbound and self.frozen:
                    continue  # held: the server never sees it, so never answers
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            _close(end)

    def close(self) -> None:
        self.server.close()
        with self._lock:
            open_, self._open = self._open, []
        for end in open_:
            _close(end)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()


@pytest.fixture
def relay(settings: Settings) -> Iterator[_Relay]:
    relay = _Relay(settings.redis_host, settings.redis_port)
    yield relay
    relay.close()


def test_a_job_sent_while_redis_restarts_mid_publish_is_a_redis_service_error_and_a_failed_row(
        settings: Settings, real_postgres_manager: PostgresManager, relay: _Relay):
    queue = f"test-send-{uuid.uuid4().hex[:8]}"  # no worker reads it: nothing runs
    through_relay = settings.model_copy(update={"redis_port": relay.port, "worker_queue": queue})
    jobs = JobClient(through_relay, real_postgres_manager)
    warm = jobs.store.create({"request": "warm the producer pool", "caller": "test"})
    hit = jobs.store.create({"request": "sent while Redis restarts", "caller": "test"})
    try:
        jobs.send(warm.job_id)  # the pooled connection and the queue's declaration, as in a workflow
        relay.drops = {b"LPUSH": 1, b"SADD": 1}  # the publish, then kombu's re-declaration of the queue
        with pytest.raises(ServiceError) as raised:
            jobs.send(hit.job_id)
        error = raised.value
        assert error.service == "redis" and error.exit_code == 3, error
        assert f"127.0.0.1:{relay.port}" in error.message and error.fix and "infra.up -s redis" in error.fix
        assert jobs.store.get(hit.job_id).status == "failed"
    finally:
        jobs.close()
        real_postgres_manager.execute("DELETE FROM jobs WHERE job_id IN (%s, %s)", (warm.job_id, hit.job_id))
        server = redis.Redis(host=settings.redis_host, port=settings.redis_port, db=1,
                             password=settings.redis_password.get_secret_value() or None)
        server.delete(queue, *server.keys(f"_kombu.binding*.{queue}"))
        server.close()


def test_a_job_waited_on_while_redis_is_frozen_ends_the_wait_naming_redis_and_stays_queued(
        settings: Settings, real_postgres_manager: PostgresManager, relay: _Relay):
    """The wait's PING (every ``check_every_s`` while the job is queued) gets no answer within
    REDIS_SOCKET_TIMEOUT_S: ServiceError("redis"), not a silent wait for the whole deadline."""
    queue = f"test-frozen-{uuid.uuid4().hex[:8]}"  # no worker reads it: the job stays queued
    through_relay = settings.model_copy(update={"redis_port": relay.port, "worker_queue": queue})
    jobs = JobClient(through_relay, real_postgres_manager)
    job = jobs.submit({"request": "queued while Redis freezes", "workspace_id": "test-frozen"}, caller="test")
    try:
        relay.frozen = True
        start = time.monotonic()
        with pytest.raises(ServiceError) as raised:
            jobs.wait(job.job_id, 60, check_every_s=1.0)
        took = time.monotonic() - start
        error = raised.value
        assert error.service == "redis" and error.exit_code == 3, error
        assert job.job_id in error.message and "does not answer" in error.message
        assert error.fix and "infra.up -s redis" in error.fix
        # the bound: the first check after 1 s, and its PING's socket timeout (3 s), with a margin of
        # 15 s for a busy machine; the silent wait it replaces was the whole 60 s
        assert took < 1.0 + deadlines.REDIS_SOCKET_TIMEOUT_S + 15, took
        assert jobs.store.get(job.job_id).status == "queued"  # its message is in Redis: it runs later
    finally:
        relay.frozen = False
        jobs.close()
        real_postgres_manager.execute("DELETE FROM jobs WHERE job_id = %s", (job.job_id,))
        server = redis.Redis(host=settings.redis_host, port=settings.redis_port, db=1,
                             password=settings.redis_password.get_secret_value() or None)
        assert server.llen(queue) == 1  # the message was never lost
        server.delete(queue, *server.keys(f"_kombu.binding*.{queue}"))
        server.close()
