"""A Chroma server's v2 collection API in memory, over real HTTP: the double of the server that
backup, verify and restore talk to, for the unit tier (the real server is the integration tier's).

In a test it serves in a thread (``tests/unit/backup/conftest.py``). Run as a program it stands in
for ``chroma run --host H --port P --path DIR``, the scratch server `backup.verify` starts; with
CHROMA_DOUBLE_RECORD set it writes there, as JSON, how it was started (arguments, telemetry setting).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from devmatrix.clients import CHROMA_COLLECTIONS, CHROMA_HEARTBEAT, CHROMA_PREFLIGHT, CHROMA_VERSION


class FakeChroma:
    """Collections by id, each with its records in insertion order; what a test reads back."""

    version = "1.0.20"

    def __init__(self) -> None:
        self.url = ""
        self.max_batch = 100
        self.collections: dict[str, dict] = {}  # id → {"id", "name", "metadata", "configuration_json", "records"}
        self.adds: list[int] = []  # the size of every add request, in order
        self.on_get: Callable[[dict], None] = lambda _collection: None  # a concurrent writer, if a test wants one

    def create(self, name: str, records: list[dict] | None = None, metadata: dict | None = None) -> str:
        collection_id = str(uuid.uuid4())
        self.collections[collection_id] = {"id": collection_id, "name": name, "metadata": metadata,
                                           "configuration_json": None, "records": list(records or [])}
        return collection_id

    def by_name(self, name: str) -> dict | None:
        return next((c for c in self.collections.values() if c["name"] == name), None)

    def names(self) -> list[str]:
        return sorted(c["name"] for c in self.collections.values())

    def records(self, name: str) -> list[dict]:
        return self.by_name(name)["records"]

    def answer(self, method: str, path: str, query: dict, body: object) -> tuple[int, object]:
        """(status, JSON body) for one request, as Chroma's v2 API answers it."""
        if path == CHROMA_VERSION:
            return 200, self.version
        if path == CHROMA_HEARTBEAT:
            return 200, {"nanosecond heartbeat": 1}
        if path == CHROMA_PREFLIGHT:
            return 200, {"max_batch_size": self.max_batch}
        match = re.fullmatch(re.escape(CHROMA_COLLECTIONS) + r"(?:/([^/]+))?(?:/(count|get|add))?", path)
        if not match:
            return 404, {"error": f"no route {path}"}
        key, action = match.groups()
        if key is None and method == "GET":
            listed = [{k: c[k] for k in ("id", "name", "metadata", "configuration_json")}
                      for c in sorted(self.collections.values(), key=lambda c: c["id"])]
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            return 200, listed[offset:offset + limit]
        if key is None and method == "POST":
            if self.by_name(body["name"]):
                return 409, {"error": f"collection {body['name']} already exists"}
            return 200, {"id": self.create(body["name"], metadata=body.get("metadata"))}
        if method == "DELETE":
            found = self.by_name(key)
            if found is None:
                return 404, {"error": f"collection {key} does not exist"}
            del self.collections[found["id"]]
            return 200, {}
        collection = self.collections.get(key)
        if collection is None:
            return 404, {"error": f"collection {key} does not exist"}
        if method == "PUT":
            if self.by_name(body["new_name"]):
                return 409, {"error": f"collection {body['new_name']} already exists"}
            collection["name"] = body["new_name"]
            return 200, {}
        if action == "count":
            return 200, len(collection["records"])
        if action == "get":
            self.on_get(collection)
            page = collection["records"][body["offset"]:body["offset"] + body["limit"]]
            return 200, {"ids": [r["id"] for r in page], "documents": [r["document"] for r in page],
                         "metadatas": [r["metadata"] for r in page], "embeddings": [r["embedding"] for r in page]}
        if action == "add":
            if len(body["ids"]) > self.max_batch:
                return 400, {"error": f"batch of {len(body['ids'])} is over {self.max_batch}"}
            self.adds.append(len(body["ids"]))
            collection["records"] += [{"id": i, "document": d, "metadata": m, "embedding": e} for i, d, m, e in
                                      zip(body["ids"], body["documents"], body["metadatas"], body["embeddings"],
                                          strict=True)]
            return 200, True
        return 405, {"error": f"{method} {path}"}


def handler_for(fake: FakeChroma) -> type[BaseHTTPRequestHandler]:
    """A request handler that lets ``fake`` answer (``fake.answer`` may be replaced by a test)."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            code, answer = fake.answer(self.command, parts.path, parse_qs(parts.query), body)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler


def main(argv: list[str]) -> int:
    """``chroma run --host H --port P --path DIR``: serve an empty FakeChroma until terminated."""
    parser = argparse.ArgumentParser(prog="chroma")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("--host", required=True)
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--path", type=Path, required=True)
    args = parser.parse_args(argv)
    args.path.mkdir(parents=True, exist_ok=True)
    if record := os.environ.get("CHROMA_DOUBLE_RECORD"):
        Path(record).write_text(json.dumps({"argv": argv, "path": str(args.path),
                                            "telemetry": os.environ.get("ANONYMIZED_TELEMETRY")}))
    ThreadingHTTPServer((args.host, args.port), handler_for(FakeChroma())).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
