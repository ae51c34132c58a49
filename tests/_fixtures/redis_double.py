"""A Redis server's persistence commands over its real protocol (RESP3), for the unit tier: INFO,
LASTSAVE, BGSAVE, CONFIG GET dir|dbfilename. A BGSAVE is first scheduled (not yet running), then
running, then writes ``rdb`` to ``<dir>/<dbfilename>``, one INFO persistence poll each, as
`BGSAVE SCHEDULE` does while an AOF rewrite runs; anything else is answered +OK. The real server is the
integration tier's.

Run as a program (`python -m _fixtures.redis_double`, with tests/ on PYTHONPATH) it stands in for
the scratch ``redis-server --bind H --port P --dir D --dbfilename F …`` that `backup.verify`
starts: its "RDB" is the double's own, JSON ``{"db0": [keys, expires]}``; a file that is not is
refused the way redis-server refuses a damaged RDB (a log line, exit 1)."""

from __future__ import annotations

import argparse
import json
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _fixtures.http_server import in_a_thread


class FakeRedis:
    version = "7.0.15"

    def __init__(self, folder: Path) -> None:
        self.dir, self.dbfilename = folder, "dump.rdb"
        self.rdb = b"REDIS0010 the saved dataset"  # what the next BGSAVE writes
        self.bgsave_ok = True
        self.lastsave = int(time.time()) - 3600
        self.keyspace = {"db0": (3, 1)}  # database → (keys, expires)
        self.saving = 0  # polls of INFO persistence left before a BGSAVE ends
        self.commands: list[str] = []
        self.lock = threading.Lock()

    def _info(self, section: str) -> str:
        if section == "server":
            return f"# Server\r\nredis_version:{self.version}\r\n"
        if section == "keyspace":
            return "# Keyspace\r\n" + "".join(f"{db}:keys={keys},expires={expires},avg_ttl=0\r\n"
                                              for db, (keys, expires) in self.keyspace.items())
        if self.saving:  # 2: scheduled, not started yet; 1: the child is writing; 0: done
            self.saving -= 1
            if not self.saving:
                self._finish_bgsave()
        return ("# Persistence\r\nloading:0\r\n"
                f"rdb_bgsave_in_progress:{1 if self.saving == 1 else 0}\r\n"
                f"rdb_last_bgsave_status:{'ok' if self.bgsave_ok else 'err'}\r\n")

    def _finish_bgsave(self) -> None:
        if self.bgsave_ok:
            (self.dir / self.dbfilename).write_bytes(self.rdb)
            self.lastsave = int(time.time())

    def answer(self, command: list[str]) -> object:
        name = command[0].upper()
        self.commands.append(name)
        with self.lock:
            if name == "INFO":
                return self._info(command[1].lower() if len(command) > 1 else "server").encode()
            if name == "LASTSAVE":
                return self.lastsave
            if name == "BGSAVE":
                self.saving = 3
                return "+Background saving started"
            if name == "HELLO":
                return {b"server": b"redis", b"version": self.version.encode(), b"proto": 3, b"id": 1,
                        b"mode": b"standalone", b"role": b"master", b"modules": []}
            if name == "CONFIG" and command[1].upper() == "GET":
                value = {"dir": str(self.dir), "dbfilename": self.dbfilename}.get(command[2])
                return {} if value is None else {command[2].encode(): value.encode()}
            if name == "PING":
                return "+PONG"
            return "+OK"


def _encode(value: object) -> bytes:
    if isinstance(value, str):  # a status reply, "+OK"
        return value.encode() + b"\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, dict):
        return b"%%%d\r\n" % len(value) + b"".join(_encode(k) + _encode(v) for k, v in value.items())
    return b"*%d\r\n" % len(value) + b"".join(_encode(item) for item in value)


@contextmanager
def serving(fake: FakeRedis, port: int = 0) -> Iterator[int]:
    """Serve ``fake`` on ``port`` (a free one if 0) of 127.0.0.1; yield the port; stop after."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while line := self.rfile.readline():
                count = int(line[1:])
                command = []
                for _ in range(count):
                    size = int(self.rfile.readline()[1:])
                    command.append(self.rfile.read(size + 2)[:-2].decode())
                self.wfile.write(_encode(fake.answer(command)))

    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    with in_a_thread(server) as bound:
        yield bound


def main(argv: list[str]) -> int:
    """``redis-server --bind H --port P --dir D --dbfilename F``: load D/F, serve it until terminated."""
    parser = argparse.ArgumentParser(prog="redis-server")
    for option in ("--bind", "--port", "--dir", "--dbfilename", "--save", "--appendonly", "--daemonize"):
        parser.add_argument(option, required=True)
    args = parser.parse_args(argv)
    rdb = Path(args.dir) / args.dbfilename
    try:
        keyspace = {db: tuple(counts) for db, counts in json.loads(rdb.read_bytes()).items()}
    except ValueError:
        print(f"# Wrong signature trying to load DB from file {rdb}", flush=True)
        return 1
    fake = FakeRedis(Path(args.dir))
    fake.keyspace = keyspace
    with serving(fake, int(args.port)):
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
