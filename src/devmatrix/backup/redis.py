"""Redis: BGSAVE waited for through LASTSAVE, the RDB copied and checked, loaded in a scratch server.

Counts come from the RDB file itself (``redis-check-rdb``: keys read, keys with
an expiry), so they describe exactly what was copied. A restore stops the
supervised server (which saves on the way down), puts the RDB in place and
starts it again; the previous RDB is kept beside it until the server is up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from devmatrix import clients
from devmatrix._process import run_bounded
from devmatrix.backup._durable import durable_copy, durable_rename
from devmatrix.config import Settings
from devmatrix.deadlines import REDIS_CHECK_RDB_TIMEOUT_S
from devmatrix.errors import BackupError
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack.redis_aof import AOF_DIR
from devmatrix.stack.system import free_port

BGSAVE_TIMEOUT_S = 300.0
SCRATCH_READY_TIMEOUT_S = 60.0
POLL_S = 0.05
_INFO = re.compile(r"\[info\] (\d+) (keys read|expires|already expired)")


def _client(settings: Settings) -> redis.Redis:
    return clients.redis_client(settings, decode_responses=False)


def tool_version() -> str:
    out = subprocess.run(["redis-check-rdb", "--version"], capture_output=True, text=True,
                         check=False).stdout.split()
    return out[1] if len(out) > 1 else "unknown"


def check_rdb(path: Path) -> dict[str, int]:
    """Run redis-check-rdb on ``path``; its key counts, or BackupError naming the file."""
    try:
        result = run_bounded(["redis-check-rdb", str(path)], timeout_s=REDIS_CHECK_RDB_TIMEOUT_S,
                             service="redis", fix="check the disk holding the backup; retry")
    except FileNotFoundError:
        raise BackupError("redis-check-rdb is not installed",
                          fix="apt-get install redis-server (it ships redis-check-rdb)") from None
    output = result.stdout + result.stderr
    if result.returncode != 0 or "RDB looks OK" not in output:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise BackupError(f"redis-check-rdb rejects {path}:\n{tail}",
                          fix="the RDB is damaged; take a new backup or use another one")
    found = {label: int(n) for n, label in _INFO.findall(output)}
    return {"keys": found.get("keys read", 0), "expires": found.get("expires", 0),
            "already_expired": found.get("already expired", 0)}


def _bgsave_timed_out() -> BackupError:
    return BackupError(f"Redis BGSAVE still running after {BGSAVE_TIMEOUT_S:g} s",
                       fix="check the Redis log (`invoke infra.logs redis`) and disk space")


def _wait_bgsave_idle(client: redis.Redis, deadline: float) -> dict:
    """INFO persistence once no BGSAVE runs (by ``deadline``, a monotonic time)."""
    def idle() -> dict | None:
        info = client.info("persistence")
        return None if info["rdb_bgsave_in_progress"] else info

    try:
        return poll(idle, timeout_s=max(0.0, deadline - time.monotonic()), wait_s=POLL_S)
    except PollTimedOut:
        raise _bgsave_timed_out() from None


def snapshot(settings: Settings, dest: Path) -> dict[str, object]:
    """BGSAVE, wait until LASTSAVE moves past the previous save, copy the RDB and check it."""
    client = _client(settings)
    try:
        with clients.map_exceptions("redis", f"backup at {settings.redis_host}:{settings.redis_port} failed",
                                    fix="`invoke infra.up -s redis`, and check REDIS_* in .env.test"):
            version = client.info("server")["redis_version"]
            deadline = time.monotonic() + BGSAVE_TIMEOUT_S
            _wait_bgsave_idle(client, deadline)  # one already running would refuse ours
            before = client.lastsave().timestamp()
            # LASTSAVE has one-second resolution: start in a later second than the last save
            time.sleep(max(0.0, before + 1 - time.time()))
            client.bgsave()

            def saved() -> dict | None:
                # ours ended (no save runs): LASTSAVE moved, or it failed, which leaves LASTSAVE where
                # it was and says err (checked on redis-server 7.0.15 with its dir read-only): waiting
                # on for LASTSAVE turned a failed save into "still running after 300 s"
                info = _wait_bgsave_idle(client, deadline)
                ended = client.lastsave().timestamp() > before or info["rdb_last_bgsave_status"] != "ok"
                return info if ended else None

            try:
                info = poll(saved, timeout_s=max(0.0, deadline - time.monotonic()), wait_s=POLL_S)
            except PollTimedOut:
                raise _bgsave_timed_out() from None
            if info["rdb_last_bgsave_status"] != "ok":
                raise BackupError("Redis BGSAVE failed (rdb_last_bgsave_status=err)",
                                  fix="read `invoke infra.logs redis` (disk full? permissions?)")
            folder = client.config_get("dir")["dir"]
            filename = client.config_get("dbfilename")["dbfilename"]
    finally:
        client.close()
    source = Path(folder) / filename
    if not source.is_file():
        raise BackupError(f"the Redis dump {source} is not on this machine",
                          fix="run the backup on the machine where Redis keeps its data")
    shutil.copyfile(source, dest)  # a later save renames a new file in; our open inode stays whole
    return {"server": version, "rdb_source": str(source), **check_rdb(dest)}


def load_count(rdb: Path) -> dict[str, int]:
    """Load ``rdb`` into a scratch redis-server on a free port; keys per database it holds."""
    with tempfile.TemporaryDirectory(prefix="devmatrix-redis-verify-") as scratch:
        shutil.copyfile(rdb, Path(scratch) / "dump.rdb")
        port = free_port()
        with (Path(scratch) / "redis.log").open("w") as log:
            server = subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", scratch,
                 "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT)
            try:
                return _count_when_loaded(port, server, Path(scratch) / "redis.log")
            finally:
                server.terminate()
                server.wait(timeout=30)


def _count_when_loaded(port: int, server: subprocess.Popen, log: Path) -> dict[str, int]:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def loaded() -> dict | None:
        if server.poll() is not None:
            raise BackupError(f"a scratch redis-server could not load the RDB:\n{log.read_text()[-800:]}",
                              fix="the RDB is damaged or from a newer Redis; use another backup")
        try:
            keyspace = client.info("keyspace")
            return None if client.info("persistence")["loading"] else keyspace
        except (redis.ConnectionError, redis.BusyLoadingError):
            return None  # still starting, or still loading

    try:
        keyspace = poll(loaded, timeout_s=SCRATCH_READY_TIMEOUT_S, wait_s=POLL_S)
    except PollTimedOut:
        raise BackupError(f"a scratch redis-server did not load the RDB in {SCRATCH_READY_TIMEOUT_S:g} s",
                          fix="check free memory; the RDB may be very large") from None
    finally:
        client.close()
    return {name: int(stats["keys"]) for name, stats in keyspace.items()}


# Under compose the live RDB is this file of this volume (infra/docker-compose.yml).
COMPOSE_REDIS_VOLUME, COMPOSE_RDB = "devmatrix-redis-data", "/data/dump.rdb"


def require_native(provider, rdb: Path) -> None:
    """Only the native provider's Redis can be swapped all-or-nothing; the others say why and how."""
    name = getattr(provider, "name", provider)
    if name == "native":
        return
    if name == "compose":
        raise BackupError(
            f"restoring Redis under compose is not automated: the live RDB is {COMPOSE_RDB} in the"
            f" volume {COMPOSE_REDIS_VOLUME}, which this process cannot set aside and put back if a"
            " later step fails (and no Docker engine was at hand to prove a `docker cp` swap)",
            fix="by hand: `docker compose -f infra/docker-compose.yml stop redis`; `docker run --rm"
                f" -v {COMPOSE_REDIS_VOLUME}:/data -v {rdb.parent.resolve()}:/backup:ro busybox:1.37.0"
                f" cp /backup/{rdb.name} {COMPOSE_RDB}`; `docker compose -f infra/docker-compose.yml start redis`",
        )
    raise BackupError(f"restoring Redis replaces its RDB file; under the {name!r} provider that server"
                      " and its files are not this machine's",
                      fix=f"load {rdb.resolve()} into that server where it runs")


def rdb_path(settings: Settings) -> Path:
    """The live server's RDB file (its ``dir`` and ``dbfilename``); ServiceError if it does not answer."""
    client = _client(settings)
    try:
        with clients.map_exceptions("redis", f"{settings.redis_host}:{settings.redis_port} does not answer",
                                    fix="`invoke infra.up -s redis` before restoring"):
            return Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
    finally:
        client.close()


def keyspace(settings: Settings) -> dict[str, int]:
    """Keys per database of the live server."""
    client = _client(settings)
    try:
        with clients.map_exceptions("redis", f"{settings.redis_host}:{settings.redis_port} does not answer",
                                    fix="`invoke infra.up -s redis`"):
            return {name: int(stats["keys"]) for name, stats in client.info("keyspace").items()}
    finally:
        client.close()


class Swap:
    """The live RDB replaced by a backup's, reversibly: stage, swap_in, then discard or swap_back.

    ``before`` runs before every step that changes the live files or server (the
    restore journals ``state()`` there), so a restore killed at any point can be
    undone by a new ``Swap`` given that state.
    """

    def __init__(self, settings: Settings, rdb: Path | None, provider,
                 before: Callable[[], None] = lambda: None, *, target: Path | None = None) -> None:
        require_native(provider, rdb or target or Path("dump.rdb"))
        self.settings, self.rdb, self.provider, self.before = settings, rdb, provider, before
        # A resumed swap is given the journaled path: Redis may be stopped, so it cannot be asked.
        self.target = target or rdb_path(settings)
        self.incoming = self.target.with_name(self.target.name + ".incoming")
        self.previous = self.target.with_name(self.target.name + ".pre-restore")
        # With AOF on, the server loads its AOF, not the RDB: the live AOF is set aside with the
        # RDB, and the next start turns the restored RDB into a new one (stack/redis_aof.py).
        self.aof = self.target.parent / AOF_DIR
        self.previous_aof = self.target.parent / f"{AOF_DIR}.pre-restore"
        self.stopped = self.swapped = self.had_previous = False

    def state(self) -> dict[str, object]:
        return {"target": str(self.target), "stopped": self.stopped, "swapped": self.swapped,
                "had_previous": self.had_previous}

    def resume(self, state: dict) -> None:
        self.stopped, self.swapped, self.had_previous = state["stopped"], state["swapped"], state["had_previous"]

    def stage(self) -> None:
        """Copy the backup's RDB beside the live one, on disk (fails here when the disk is full)."""
        try:
            durable_copy(self.rdb, self.incoming)
        except OSError:
            self.incoming.unlink(missing_ok=True)
            raise

    def swap_in(self) -> None:
        """Stop Redis (it saves on the way down), set that RDB aside, put ours in place, start."""
        self.stopped = True
        self.before()
        self.provider.down(("redis",))
        self.had_previous = self.target.exists()
        self.swapped = True  # from here the live RDB may have moved: swap_back looks at the files
        self.before()
        if self.had_previous:
            durable_rename(self.target, self.previous)
        if self.aof.exists():
            durable_rename(self.aof, self.previous_aof)
        durable_rename(self.incoming, self.target)
        self.provider.up(("redis",))

    def swap_back(self) -> None:
        """Undo ``swap_in`` from whatever point it reached (safe to retry): stop, old RDB back, start."""
        self.incoming.unlink(missing_ok=True)
        if self.swapped:
            self.stopped = True
            self.provider.down(("redis",))
            if self.previous.exists():
                durable_rename(self.previous, self.target)
            elif not self.had_previous:
                self.target.unlink(missing_ok=True)  # there was no dataset before: none after
            if self.previous_aof.exists():
                shutil.rmtree(self.aof, ignore_errors=True)  # the one made from the restored RDB
                durable_rename(self.previous_aof, self.aof)
            self.swapped = False
        if self.stopped:
            self.provider.up(("redis",))
            self.stopped = False

    def discard(self) -> None:
        """The restore is complete: the old RDB is no longer needed."""
        self.previous.unlink(missing_ok=True)
        self.incoming.unlink(missing_ok=True)
        shutil.rmtree(self.previous_aof, ignore_errors=True)
