"""A scratch stack for backup, restore and cleanup tests: its own Postgres, Redis and Chroma.

A restore replaces *everything* in the three stores, and cleanup deletes every
piece of test data; on the shared stack that would wipe what other tests are
writing at the same moment. So these tests run on their own servers (own state
dir under `.devmatrix/`, which the Postgres system user can reach, and free
ports), started once per test module and removed afterwards. The LLM settings
point at the shared local server, which validate only reads.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from devmatrix.backup.chroma import EMBEDDING_TOLERANCE, ChromaHTTP, read_collection
from devmatrix.config import Settings
from devmatrix.setup import db, git
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port
from devmatrix.state.postgres import PostgresManager

CORE = ("postgres", "redis", "chroma")
DIM = 384
_ROW_COLUMNS = "id, timestamp, workspace_id, user_request, generated_code, approval_status, quality_score, metadata"


def _quoted(value: str) -> str:
    """A value as .env files read it back exactly (single quotes: no escapes, no interpolation)."""
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Stack:
    settings: Settings
    provider: NativeProvider
    root: Path

    def env_file(self) -> Path:
        """A settings file for `invoke` subprocesses that points at this stack."""
        path = self.root / ".env.test"
        s = self.settings
        values = {
            "DEVMATRIX_PROVIDER": "native", "DEVMATRIX_STATE_DIR": s.devmatrix_state_dir,
            "POSTGRES_PORT": s.postgres_port, "REDIS_PORT": s.redis_port, "CHROMADB_PORT": s.chromadb_port,
            "LLM_PORT": s.llm_port, "LLM_BACKEND": s.llm_backend, "API_PORT": s.api_port,
            "WORKSPACE_DIR": s.workspace_dir,
            "BACKUP_DIR": s.backup_dir, "RAG_CACHE_DIR": s.rag_cache_dir,
            "REDIS_PASSWORD": s.redis_password.get_secret_value(), "API_TOKEN": s.api_token.get_secret_value(),
            "POSTGRES_PASSWORD": s.postgres_password.get_secret_value(),  # the one its cluster was made with
        }
        path.touch(mode=0o600)
        path.write_text("".join(f"{k}={_quoted(str(v))}\n" for k, v in values.items()))
        return path

    def postgres(self) -> PostgresManager:
        return PostgresManager(settings=self.settings)

    def redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.settings.redis_port, decode_responses=True,
                           password=self.settings.redis_password.get_secret_value() or None)

    def chroma(self) -> ChromaHTTP:
        return ChromaHTTP(self.settings.chroma_url)

    def wipe(self) -> None:
        """Empty all three stores (between tests of one module)."""
        pg = self.postgres()
        try:
            pg.execute("TRUNCATE code_generation_logs, workflows, workflow_tasks RESTART IDENTITY")
        finally:
            pg.close()
        client = self.redis()
        try:
            client.flushall()
        finally:
            client.close()
        with self.chroma() as chroma:
            for collection in chroma.collections():
                chroma.delete(collection["name"])


@pytest.fixture(scope="module")
def stack(settings: Settings) -> Iterator[Stack]:
    root = Path(".devmatrix/test-backup") / uuid.uuid4().hex[:8]
    root.mkdir(parents=True)
    scratch = settings.model_copy(update={
        "devmatrix_provider": "native", "devmatrix_state_dir": (root / "state").resolve(),
        "postgres_port": free_port(), "redis_port": free_port(), "chromadb_port": free_port(),
        "workspace_dir": (root / "workspace_test").resolve(), "backup_dir": (root / "backups").resolve(),
    })
    provider = NativeProvider(scratch, env_file=root / ".env.test", echo=lambda _: None)
    try:
        provider.up(CORE)
        db.setup_database(scratch)
        git.init_workspace(scratch)
        yield Stack(scratch, provider, root)
    finally:
        provider.down()
        shutil.rmtree(root, ignore_errors=True)
        with contextlib.suppress(OSError):  # not empty: another process's scratch stack is in it
            root.parent.rmdir()


# --- a clean stack, known data, and exact snapshots of it ---------------------
@pytest.fixture
def clean(stack: Stack) -> Iterator[Stack]:
    stack.wipe()
    shutil.rmtree(stack.settings.backup_dir, ignore_errors=True)
    yield stack
    stack.wipe()
    shutil.rmtree(stack.settings.backup_dir, ignore_errors=True)


def write_known_data(target: Stack) -> None:
    pg = target.postgres()
    try:
        for i in range(25):
            pg.execute("INSERT INTO code_generation_logs (workspace_id, user_request, generated_code,"
                       " approval_status, quality_score, metadata) VALUES (%s, %s, %s, %s, %s, %s)",
                       (f"rt-{i % 3}", f"request {i} — ünïcode", f"def f{i}():\n    return {i}\n",
                        "approved" if i % 2 else "rejected", i / 7, json.dumps({"i": i, "tags": ["a", i]})))
    finally:
        pg.close()
    client = target.redis()
    try:
        client.set("test:rt:string", "value ✓")
        client.hset("test:rt:hash", mapping={"a": "1", "b": "2"})
        client.rpush("test:rt:list", "x", "y", "z")
        client.sadd("test:rt:set", "p", "q")
        client.zadd("test:rt:zset", {"m": 1.5, "n": 2.5})
        client.set("devmatrix:rt:ttl", "expires later", ex=3600)
    finally:
        client.close()
    rng = random.Random(8)
    with target.chroma() as chroma:
        for name, space, n in (("rt_examples", "cosine", 30), ("rt_l2", "l2", 5)):
            collection_id = chroma.create(name, {"hnsw:space": space, "owner": "round-trip"}, None)
            chroma.add(collection_id, {
                "ids": [f"{name}-{i}" for i in range(n)],
                "embeddings": [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)],
                "documents": [f"def example_{i}(): pass" for i in range(n)],
                "metadatas": [{"i": i, "language": "python", "score": i / 3} for i in range(n)],
            })


def snapshot(target: Stack) -> dict:
    pg = target.postgres()
    try:
        rows = pg.execute(f"SELECT {_ROW_COLUMNS} FROM code_generation_logs ORDER BY id")  # noqa: S608
    finally:
        pg.close()
    client = target.redis()
    try:
        keys = {}
        for key in sorted(client.scan_iter()):
            kind = client.type(key)
            value = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
                     "list": lambda k: client.lrange(k, 0, -1),
                     "zset": lambda k: client.zrange(k, 0, -1, withscores=True)}[kind](key)
            keys[key] = (kind, value, client.ttl(key) > 0)
    finally:
        client.close()
    with target.chroma() as chroma:
        collections = {c["name"]: (c["metadata"], sorted(read_collection(chroma, c["name"]), key=lambda r: r["id"]))
                       for c in chroma.collections()}
    return {"rows": rows, "keys": keys, "collections": collections}


def assert_same_data(found: dict, original: dict) -> None:
    assert found["rows"] == original["rows"]
    assert found["keys"] == original["keys"]
    assert set(found["collections"]) == set(original["collections"])
    for name, (metadata, records) in original["collections"].items():
        found_metadata, found_records = found["collections"][name]
        assert found_metadata == metadata
        assert [(r["id"], r["document"], r["metadata"]) for r in found_records] == \
            [(r["id"], r["document"], r["metadata"]) for r in records]
        for mine, theirs in zip(found_records, records, strict=True):
            assert max(abs(a - b) for a, b in zip(mine["embedding"], theirs["embedding"], strict=True)) \
                <= EMBEDDING_TOLERANCE


def change_everything(target: Stack) -> None:
    pg = target.postgres()
    try:
        pg.execute("DELETE FROM code_generation_logs WHERE id <= 5")
        pg.execute("UPDATE code_generation_logs SET generated_code = 'changed' WHERE id = 10")
        pg.execute("INSERT INTO code_generation_logs (workspace_id) VALUES ('after-backup')")
    finally:
        pg.close()
    client = target.redis()
    try:
        client.delete("test:rt:hash", "test:rt:set")
        client.set("test:rt:string", "changed")
        client.set("test:rt:new", "added after the backup")
    finally:
        client.close()
    with target.chroma() as chroma:
        chroma.delete("rt_l2")
        chroma.create("rt_added_later", None, None)


def said(done) -> str:
    """stderr with the terminal's line wrapping undone."""
    return " ".join(done.stderr.split())
