"""The workers' ping asks again, in rounds, within its window (jobs.service.ping_nodes).

Celery's broker and workers are faked here (the rounds' bookkeeping is ours); the live case,
workers booting while a ping waits, is tests/integration/ops/test_infra.py."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from contextlib import contextmanager

import pytest

from devmatrix.jobs import service
from devmatrix.jobs._constants import PING_ROUND_S

pytestmark = pytest.mark.unit


class FakeControl:
    """Answers round N with ``rounds[N]`` (each a list of replies); ``late[N]`` lands in
    ``mailbox.unclaimed`` during round N, as kombu files a reply to an earlier round's ticket."""

    def __init__(self, rounds: list[list[dict]], late: dict[int, list[dict]] | None = None) -> None:
        self.rounds, self.late, self.sent = rounds, late or {}, []
        self.mailbox = type("Mailbox", (), {"unclaimed": defaultdict(deque)})()

    def ping(self, *, destination, timeout, limit, connection):
        round_no = len(self.sent)
        self.sent.append({"destination": destination, "limit": limit})
        replies = self.rounds[round_no] if round_no < len(self.rounds) else []
        for reply in self.late.get(round_no, []):
            self.mailbox.unclaimed["an-earlier-ticket"].append(reply)
        if not replies:
            time.sleep(timeout)  # nobody answered: the round waits out its window
        return replies


class FakeApp:
    def __init__(self, control: FakeControl) -> None:
        self.control = control

    @contextmanager
    def connection_for_write(self):
        yield type("Connection", (), {"ensure_connection": lambda self, **kw: None})()


NODES = ["worker-0@host.tag", "worker-1@host.tag"]


def test_a_worker_that_subscribed_after_the_first_ping_is_heard_in_a_later_round_not_after_the_window():
    control = FakeControl([[], [], [{NODES[0]: {"ok": "pong"}}], [{NODES[1]: {"ok": "pong"}}]])
    started = time.monotonic()
    assert service.ping_nodes(FakeApp(control), 30, destination=NODES) == NODES
    assert time.monotonic() - started < 10 * PING_ROUND_S  # four rounds, not the 30 s window
    # each round asks only the nodes still missing
    assert [sent["destination"] for sent in control.sent] == [NODES, NODES, NODES, [NODES[1]]]
    assert [sent["limit"] for sent in control.sent] == [2, 2, 2, 1]


def test_a_slow_answer_to_an_earlier_round_still_counts():
    # worker-1 answers round 0 late, while round 2 collects: kombu files it under round 0's ticket
    control = FakeControl([[{NODES[0]: {"ok": "pong"}}], [], []], late={2: [{NODES[1]: {"ok": "pong"}}]})
    assert service.ping_nodes(FakeApp(control), 30, destination=NODES) == NODES
    assert len(control.sent) == 3 and not control.mailbox.unclaimed


def test_only_the_asked_nodes_count_and_a_silent_window_ends_on_time():
    # another machine's node answering a late broadcast is not one of this stack's
    control = FakeControl([[{"worker-0@other.tag": {"ok": "pong"}}]])
    started = time.monotonic()
    assert service.ping_nodes(FakeApp(control), 1.0, destination=NODES) == []
    assert 1.0 <= time.monotonic() - started < 1.0 + 2 * PING_ROUND_S  # the window, plus at most one round's wait


def test_without_a_destination_it_returns_at_the_limit():
    control = FakeControl([[{NODES[0]: {"ok": "pong"}}]])
    assert service.ping_nodes(FakeApp(control), 30, limit=1) == [NODES[0]]
    assert control.sent == [{"destination": None, "limit": 1}]
