"""Chroma: every collection exported through the server's v2 HTTP API, and imported back.

Why an export and not a copy of the data directory: the server keeps running
(a copy is consistent only with the server stopped, and everything using RAG
would fail meanwhile), the file is independent of Chroma's on-disk format, and
each collection gets a content digest that a restore can be checked against.
A collection that changes while it is exported is read again; if it keeps
changing the backup fails rather than saving a mix.

One file per collection, ``chroma/<name>.jsonl.gz``: a header line (name,
metadata, configuration, count), then one record per line (id, document,
metadata, embedding). The digest covers ids, documents and metadatas exactly;
embeddings are compared within ``EMBEDDING_TOLERANCE``, because a cosine
collection renormalises every vector it stores and float32 rounding moves the
last bit (measured: at most 1e-7).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from devmatrix.clients import CHROMA_HEARTBEAT, ChromaHTTP
from devmatrix.errors import BackupError
from devmatrix.retry import retry
from devmatrix.stack.catalog import chroma_server_command
from devmatrix.stack.system import free_port

PAGE = 1000
EXPORT_ATTEMPTS = 3
EMBEDDING_TOLERANCE = 1e-6
SCRATCH_READY_TIMEOUT_S = 60.0
SCRATCH_READY_POLL_S = 0.1


def _records(page: dict) -> Iterator[dict]:
    for i, record_id in enumerate(page["ids"]):
        yield {"id": record_id, "document": page["documents"][i], "metadata": page["metadatas"][i],
               "embedding": page["embeddings"][i]}


def content_digest(records: list[dict]) -> str:
    """sha256 over ids, documents and metadatas, in id order (embeddings: see the module doc)."""
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: r["id"]):
        digest.update(json.dumps([record["id"], record["document"], record["metadata"]],
                                 sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _read_all(chroma: ChromaHTTP, collection: dict) -> list[dict]:
    """Every record of a collection, read twice-counted so a concurrent write is noticed."""
    for _ in range(EXPORT_ATTEMPTS):
        before = chroma.count(collection["id"])
        records: list[dict] = []
        while len(records) < before:
            page = chroma.get(collection["id"], len(records), PAGE)
            if not page["ids"]:
                break
            records.extend(_records(page))
        if len(records) == before == chroma.count(collection["id"]) and \
                len({r["id"] for r in records}) == before:
            return records
    raise BackupError(f"Chroma collection {collection['name']!r} kept changing while it was exported",
                      fix="stop what writes to it (e.g. `invoke rag` indexing) and run the backup again")


def _summary(records: list[dict]) -> dict[str, object]:
    dims = {len(r["embedding"]) for r in records if r["embedding"] is not None}
    return {"count": len(records), "dimension": dims.pop() if len(dims) == 1 else None,
            "content_sha256": content_digest(records)}


def export(url: str, folder: Path) -> dict[str, object]:
    """Write every collection to ``folder``; the manifest's chroma section."""
    folder.mkdir(parents=True, exist_ok=True)
    collections: dict[str, dict] = {}
    with ChromaHTTP(url) as chroma:
        version = chroma.version()
        for collection in chroma.collections():
            records = _read_all(chroma, collection)
            header = {"name": collection["name"], "metadata": collection.get("metadata"),
                      "configuration": collection.get("configuration_json"), "count": len(records)}
            with gzip.open(folder / f"{collection['name']}.jsonl.gz", "wt", encoding="utf-8",
                           compresslevel=1) as out:
                out.write(json.dumps(header) + "\n")
                for record in records:
                    out.write(json.dumps(record) + "\n")
            collections[collection["name"]] = {**_summary(records), "metadata": header["metadata"]}
    return {"server": version, "collections": collections}


def read_export(path: Path) -> tuple[dict, list[dict]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            header = json.loads(handle.readline())
            records = [json.loads(line) for line in handle]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is not a readable Chroma export ({error})",
                          fix="the file is damaged; use another backup") from None
    if header.get("count") != len(records):
        raise BackupError(f"{path} holds {len(records)} records, its header says {header.get('count')}",
                          fix="the file is truncated; use another backup")
    return header, records


def import_collection(chroma: ChromaHTTP, header: dict, records: list[dict], *, name: str | None = None) -> str:
    """Create the collection (as ``name`` if given) and add every record, in server-sized batches."""
    collection_id = chroma.create(name or header["name"], header.get("metadata"), header.get("configuration"))
    size = min(chroma.max_batch(), PAGE)
    for start in range(0, len(records), size):
        batch = records[start:start + size]
        chroma.add(collection_id, {
            "ids": [r["id"] for r in batch], "embeddings": [r["embedding"] for r in batch],
            "documents": [r["document"] for r in batch], "metadatas": [r["metadata"] for r in batch],
        })
    return collection_id


def compare(name: str, expected: list[dict], found: list[dict]) -> list[str]:
    """What differs between two record sets: count, content digest, embeddings beyond tolerance."""
    problems = []
    if len(found) != len(expected):
        problems.append(f"collection {name}: {len(found)} records, expected {len(expected)}")
    if content_digest(found) != content_digest(expected):
        problems.append(f"collection {name}: ids, documents or metadatas differ from the backup")
    by_id = {r["id"]: r["embedding"] for r in found}
    worst = 0.0
    for record in expected:
        other = by_id.get(record["id"])
        if other is None or record["embedding"] is None:
            continue
        worst = max(worst, max((abs(a - b) for a, b in zip(record["embedding"], other, strict=True)), default=0.0))
    if worst > EMBEDDING_TOLERANCE:
        problems.append(f"collection {name}: embeddings differ by up to {worst:.2e} (> {EMBEDDING_TOLERANCE:g})")
    return problems


def read_collection(chroma: ChromaHTTP, name: str) -> list[dict]:
    collection = next((c for c in chroma.collections() if c["name"] == name), None)
    if collection is None:
        return []
    return _read_all(chroma, collection)


STAGED = "devmatrix-restoring-{token}-{name}"
SET_ASIDE = "devmatrix-pre-restore-{token}-{name}"


class Swap:
    """Every live collection replaced by the backup's, reversibly (renames over the HTTP API).

    ``stage`` imports each backed-up collection under a staging name and checks
    it; ``swap_in`` renames the live collections aside and the staged ones to
    their names; ``swap_back`` undoes that; ``discard`` deletes what was set aside.
    Each name is noted, and ``before`` run (the restore journals ``state()``
    there), before the collection is created or renamed, so a restore killed at
    any point can be undone by a new ``Swap`` given that state.
    """

    def __init__(self, url: str, folder: Path | None, expected: dict[str, dict],
                 before: Callable[[], None] = lambda: None) -> None:
        self.url, self.folder, self.expected, self.before = url, folder, expected, before
        self.token = os.urandom(4).hex()
        self.staged: dict[str, str] = {}  # name → staging name
        self.set_aside: dict[str, str] = {}  # live name → its name while set aside
        self.swapped: list[str] = []  # names the backup's collections carry, or are about to

    def state(self) -> dict:
        return {"token": self.token, "staged": self.staged, "set_aside": self.set_aside, "swapped": self.swapped}

    def resume(self, state: dict) -> None:
        self.token = state["token"]
        self.staged, self.set_aside, self.swapped = dict(state["staged"]), dict(state["set_aside"]), \
            list(state["swapped"])

    def _ids(self, chroma: ChromaHTTP) -> dict[str, str]:
        return {c["name"]: c["id"] for c in chroma.collections()}

    def stage(self) -> None:
        with ChromaHTTP(self.url) as chroma:
            for name in sorted(self.expected):
                header, records = read_export(self.folder / f"{name}.jsonl.gz")
                staged = STAGED.format(token=self.token, name=name)
                self.staged[name] = staged
                self.before()
                import_collection(chroma, header, records, name=staged)
                problems = compare(name, records, read_collection(chroma, staged))
                if problems:
                    raise BackupError(f"chroma: the restored copy of {name!r} does not match the backup: "
                                      + "; ".join(problems), fix="use another backup")

    def swap_in(self) -> None:
        with ChromaHTTP(self.url) as chroma:
            ids = self._ids(chroma)
            for name, collection_id in sorted(ids.items()):
                if name not in self.staged.values():
                    self.set_aside[name] = SET_ASIDE.format(token=self.token, name=name)
                    self.before()
                    chroma.rename(collection_id, self.set_aside[name])
            for name, staged in sorted(self.staged.items()):
                self.swapped.append(name)
                self.before()
                chroma.rename(ids[staged], name)

    def swap_back(self) -> None:
        """Delete what the restore added (staged or swapped in), give the set-aside collections their names.

        A name in ``swapped`` is only ever the backup's: every live collection is
        set aside before the first staged one is renamed in. Each step is
        forgotten once done, so a retry after a failure (the server restarting)
        never deletes a collection that already has its old name back.
        """
        with ChromaHTTP(self.url) as chroma:
            ids = self._ids(chroma)
            for name in list(self.swapped):
                if name in ids:
                    chroma.delete(name)
                self.swapped.remove(name)
            for name, staged in list(self.staged.items()):
                if staged in ids:
                    chroma.delete(staged)
                del self.staged[name]
            for name, aside in sorted(self.set_aside.items()):
                if aside in ids:
                    chroma.rename(ids[aside], name)
                del self.set_aside[name]

    def discard(self) -> None:
        """The restore is complete: delete the set-aside collections (those still there: safe to retry)."""
        with ChromaHTTP(self.url) as chroma:
            ids = self._ids(chroma)
            for aside in self.set_aside.values():
                if aside in ids:
                    chroma.delete(aside)
        self.set_aside = {}


def verify_in_scratch(folder: Path, expected: dict[str, dict]) -> tuple[dict[str, int], list[str]]:
    """Import every export into a scratch Chroma server on a scratch directory; counts and problems."""
    counts: dict[str, int] = {}
    problems: list[str] = []
    if not expected:
        return counts, problems  # nothing to import: no scratch server needed
    with tempfile.TemporaryDirectory(prefix="devmatrix-chroma-verify-") as scratch:
        port = free_port()
        with (Path(scratch) / "chroma.log").open("w") as log:
            server = subprocess.Popen(
                chroma_server_command("127.0.0.1", port, Path(scratch) / "data"),
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_ready(url, server, Path(scratch) / "chroma.log")
                with ChromaHTTP(url) as chroma:
                    for name, summary in sorted(expected.items()):
                        header, records = read_export(folder / f"{name}.jsonl.gz")
                        if content_digest(records) != summary["content_sha256"]:
                            problems.append(f"collection {name}: export content differs from the manifest")
                        import_collection(chroma, header, records)
                        found = read_collection(chroma, name)
                        counts[name] = len(found)
                        problems += compare(name, records, found)
            finally:
                server.terminate()
                server.wait(timeout=30)
    return counts, problems


class _NotReady(Exception):
    """The scratch server answers, but not yet healthy."""


def _wait_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    with requests.Session() as http:
        def heartbeat() -> None:
            if server.poll() is not None:  # not retried: a server that exited will not come up
                raise BackupError(f"a scratch Chroma server exited:\n{log.read_text()[-800:]}",
                                  fix="check that chromadb is installed in this environment")
            if not http.get(f"{url}{CHROMA_HEARTBEAT}", timeout=2).ok:
                raise _NotReady(url)

        try:
            retry(heartbeat, on=(requests.RequestException, _NotReady), timeout_s=SCRATCH_READY_TIMEOUT_S,
                  wait_s=SCRATCH_READY_POLL_S)
        except (requests.RequestException, _NotReady) as error:
            raise BackupError(f"a scratch Chroma server was not ready in {SCRATCH_READY_TIMEOUT_S:g} s",
                              fix=f"read {log}") from error
