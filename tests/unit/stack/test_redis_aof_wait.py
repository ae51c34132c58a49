"""redis_aof's wait for a scratch redis-server (devmatrix.retry.poll): it ends when the server is
ready, at once when the server exited, and at its deadline otherwise; a server still starting or
loading its RDB is waited for. The "server" is a real process; ``ready`` is the check it answers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis

from devmatrix.errors import ServiceError
from devmatrix.stack import redis_aof

pytestmark = pytest.mark.unit
SLACK_S = 3.0


@pytest.fixture
def server():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_server_loading_then_ready_ends_the_wait(server, tmp_path):
    answers = iter([redis.ConnectionError("refused"), redis.BusyLoadingError("loading"), False, True])

    def ready() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    redis_aof._until(ready, server, time.monotonic() + 30, tmp_path / "log")


def test_a_server_that_never_gets_ready_is_said_at_the_deadline(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        redis_aof._until(lambda: False, server, time.monotonic() + 0.5, tmp_path / "log")
    assert 0.5 <= time.monotonic() - start < 0.5 + SLACK_S
    assert f"took over {redis_aof.SEED_TIMEOUT_S:g} s" in caught.value.message


def test_a_server_that_exited_is_said_at_once_with_its_log(tmp_path):
    (tmp_path / "log").write_text("FATAL: bad RDB")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        redis_aof._until(lambda: False, exited, time.monotonic() + 30, tmp_path / "log")
    assert time.monotonic() - start < SLACK_S and "FATAL: bad RDB" in caught.value.message


def test_an_error_that_is_not_a_starting_server_leaves_at_once(server, tmp_path):
    def ready() -> bool:
        raise redis.ResponseError("ERR unknown command CONFIG")

    with pytest.raises(redis.ResponseError):
        redis_aof._until(ready, server, time.monotonic() + 30, tmp_path / "log")
