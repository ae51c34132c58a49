"""Redis persistence for a queue: AOF (``appendfsync everysec``) and ``noeviction``.

The broker's queued jobs and the day's LLM budget ledger must survive a ``kill -9`` of Redis:
an RDB saved every 60 s loses what was written since. With AOF on, a server loads only its
AOF and ignores ``dump.rdb``; so a data dir holding an RDB but no AOF yet (a stack from before
AOF, or an RDB a restore just put in place) is first turned into an AOF by a scratch server
(``CONFIG SET appendonly yes`` rewrites the loaded dataset into the AOF), never started empty.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from devmatrix.errors import ServiceError
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack.system import free_port

AOF_DIR = "appendonlydir"
RDB_FILE = "dump.rdb"
# What `invoke validate` requires of the server (CONFIG GET name -> value).
QUEUE_SETTINGS = {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"}
FLAGS = ["--appendonly", "yes", "--appendfsync", "everysec", "--appenddirname", AOF_DIR,
         "--maxmemory-policy", "noeviction"]
# Loading an RDB and rewriting it into an AOF: seconds for this stack's data.
SEED_TIMEOUT_S = 120.0
POLL_S = 0.05


def seed_from_rdb(data: Path) -> bool:
    """Turn ``data``'s RDB into its AOF when it has the one and not the other; True when it did."""
    if (data / AOF_DIR).exists() or not (data / RDB_FILE).exists():
        return False
    port = free_port()
    log = data / "aof-seed.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
             "--dir", str(data), "--dbfilename", RDB_FILE, "--save", "", "--appendonly", "no",
             "--appenddirname", AOF_DIR, "--daemonize", "no"], stdout=out, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    deadline = time.monotonic() + SEED_TIMEOUT_S
    try:
        _until(lambda: not client.info("persistence")["loading"], server, deadline, log)
        client.config_set("appendonly", "yes")
        _until(lambda: _rewritten(client.info("persistence")), server, deadline, log)
        client.shutdown(save=False)
    except redis.ConnectionError:
        pass  # SHUTDOWN closes the connection
    finally:
        client.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    if not (data / AOF_DIR).exists():
        raise ServiceError("redis", f"could not turn {data / RDB_FILE} into an AOF:\n{log.read_text()[-800:]}",
                           fix=f"read {log}; the RDB may be damaged (restore another backup)")
    log.unlink(missing_ok=True)
    return True


def _rewritten(info: dict) -> bool:
    return bool(info["aof_enabled"]) and not info["aof_rewrite_in_progress"] \
        and not info["aof_rewrite_scheduled"] and info.get("aof_last_bgrewrite_status") == "ok"


def _until(ready, server: subprocess.Popen, deadline: float, log: Path) -> None:
    def check() -> bool | None:
        if server.poll() is not None:  # it will not come back: said at once
            raise ServiceError("redis", f"a scratch redis-server exited while turning the RDB into an AOF:\n"
                                        f"{log.read_text()[-800:]}", fix=f"read {log}")
        try:
            return ready() or None
        except (redis.ConnectionError, redis.BusyLoadingError):
            return None  # still starting, or still loading the RDB

    try:
        poll(check, timeout_s=max(0.0, deadline - time.monotonic()), wait_s=POLL_S)
    except PollTimedOut:
        raise ServiceError("redis", f"turning the RDB into an AOF took over {SEED_TIMEOUT_S:g} s",
                           fix=f"read {log}; check free memory and disk") from None
