"""The workers as a service of the registry: their names, their concurrency, and their probe.

The registry's entry (stack/registry.py) names this module's `url` and `readiness`; the native
provider's builder (stack/_programs.worker) runs WORKER_COUNT processes of `MODULE` under one
supervisord program (a process group: worker-0, worker-1, …), each a Celery node named
``<process>@<host>.<stack>`` (two stacks on one machine, as in the two-machine test, never
share a node name) with the LLM backend's parallel slots as its concurrency. The probe pings
every node through the broker (any machine's); at least one must answer. The own probe pings
only this stack's nodes: what the provider that runs them waits for, and what validate checks
on a machine that runs workers.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import celery

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.deadlines import CONNECT_TIMEOUT_S
from devmatrix.errors import ServiceError
from devmatrix.jobs._constants import PING_ROUND_S, PING_TIMEOUT_S
from devmatrix.jobs.app import broker_address, make_app
from devmatrix.llm.slots import generation_limit

SERVICE = "worker"
MODULE = "devmatrix.jobs.worker"
# A warm shutdown (SIGTERM) lets a running job finish for this long; after it supervisord's
# backstop kills the process, and the job comes back to another worker (acks_late).
STOP_WAIT_S = 20


def worker_concurrency(settings: Settings) -> int:
    """Each worker runs as many generations at once as the LLM backend serves (its parallel slots)."""
    return generation_limit(settings)


def stack_tag(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


def node_name(process: str, state_dir: Path) -> str:
    """The Celery node name of one worker process of the stack kept in ``state_dir``."""
    return f"{process}@{socket.gethostname()}.{stack_tag(state_dir)}"


def own_nodes(settings: Settings) -> list[str]:
    """The node names of this stack's WORKER_COUNT supervised processes (worker-0, worker-1, …)."""
    return [node_name(f"{SERVICE}-{i}", settings.devmatrix_state_dir) for i in range(settings.worker_count)]


def ping_nodes(app: celery.Celery, timeout_s: float, limit: int | None = None,
               destination: list[str] | None = None) -> list[str]:
    """The nodes that answered a control ping within ``timeout_s``, asked on a broker connection of
    its own (closed after); with ``limit``, it returns as soon as that many answered.

    The ping is sent again every PING_ROUND_S to the nodes that have not answered yet. A worker
    hears a broadcast only once it has subscribed, at the end of its boot: one ping sent just
    before missed it, and the provider starting a stack waited out the whole window before asking
    again (the workers answered 1.4 s after they were ready in CI's first phase1, 2026-12-07).
    A slow answer to an earlier round still counts: kombu keeps the replies to other tickets that
    a round reads (``Mailbox.unclaimed``), and they are taken from there.

    Never a connection from Celery's pool: kombu keeps that pool per broker URL for the whole
    process (``kombu.pools``), shared by every app, and a connection Redis closed when it restarted
    stays in it: the next ping on it failed at once, "Connection closed by server" (CI at ff1b088,
    the worker probe after the API outage tests restarted Redis). A fresh connection has the app's
    connect and socket timeouts (app.py), and is tried once: kombu would retry a refused
    connection for seconds. So a ping ends within CONNECT_TIMEOUT_S + ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    enough = limit if limit is not None else len(destination) if destination else None
    answered: set[str] = set()
    mailbox = app.control.mailbox
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_S)
        while (left := deadline - time.monotonic()) > 0:
            missing = None if destination is None else [node for node in destination if node not in answered]
            replies = app.control.ping(destination=missing, timeout=min(PING_ROUND_S, left),
                                       limit=None if enough is None else enough - len(answered),
                                       connection=connection)
            late = [reply for replies_to_a_round in mailbox.unclaimed.values() for reply in replies_to_a_round]
            mailbox.unclaimed.clear()
            answered.update(node for reply in [*replies, *late] for node in reply
                            if destination is None or node in destination)
            if enough is not None and len(answered) >= enough:
                break
    return sorted(answered)


def ping(settings: Settings, timeout_s: float = PING_TIMEOUT_S, *, limit: int | None = None,
         destination: list[str] | None = None) -> list[str]:
    """The node names that answered a control ping within ``timeout_s`` (every machine's workers, or
    only those in ``destination``); with ``limit``, it returns as soon as that many answered instead
    of waiting the whole timeout."""
    app = make_app(settings)
    try:
        with clients.map_exceptions(SERVICE, f"cannot reach the broker {broker_address(settings)}",
                                    fix="`invoke infra.up -s redis`, then `invoke infra.status`"):
            return ping_nodes(app, timeout_s, limit, destination)
    finally:
        app.close()


def url(settings: Settings) -> str:
    """Where the workers take their jobs from: the broker."""
    return broker_address(settings)


def readiness(settings: Settings) -> str:
    """At least one node answers; returns once this machine's WORKER_COUNT did (milliseconds when
    they are up), else after PING_TIMEOUT_S with those that did."""
    nodes = ping(settings, limit=settings.worker_count)
    if not nodes:
        raise ServiceError(SERVICE, f"no worker answered a ping within {PING_TIMEOUT_S:g} s on"
                                    f" {broker_address(settings)}",
                           fix="`invoke infra.up -s worker`, then `invoke infra.logs worker`")
    return f"celery {celery.__version__}; {len(nodes)} node(s): {', '.join(nodes)}"


def own_readiness(settings: Settings) -> str:
    """At least one of THIS stack's own nodes answers (other machines' workers answer the same broker,
    and would pass `readiness` for a stack whose own workers are down); returns once all of them did."""
    own = own_nodes(settings)
    nodes = ping(settings, limit=len(own), destination=own)
    if not nodes:
        raise ServiceError(SERVICE, f"none of this stack's workers ({', '.join(own)}) answered a ping within"
                                    f" {PING_TIMEOUT_S:g} s on {broker_address(settings)}",
                           fix="`invoke infra.up -s worker`, then `invoke infra.logs worker`")
    return f"celery {celery.__version__}; {len(nodes)}/{len(own)} own node(s): {', '.join(nodes)}"
