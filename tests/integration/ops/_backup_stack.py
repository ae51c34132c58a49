"""A scratch stack for backup, restore and cleanup tests: its own Postgres, Redis and Chroma.

A restore replaces *everything* in the three stores, and cleanup deletes every
piece of test data; on the shared stack that would wipe what other tests are
writing at the same moment. So these tests run on their own servers (own state
dir under `.devmatrix/`, which the Postgres system user can reach, and free
ports), started once per test module and removed afterwards. The LLM settings
point at the shared local server, which validate only reads.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from devmatrix.config import Settings
from devmatrix.ops import db, git
from devmatrix.ops.backup.chroma import ChromaHTTP
from devmatrix.ops.services.native import NativeProvider
from devmatrix.state.postgres import PostgresManager

CORE = ("postgres", "redis", "chroma")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
            "LLM_PORT": s.llm_port, "LLM_BACKEND": s.llm_backend, "WORKSPACE_DIR": s.workspace_dir,
            "BACKUP_DIR": s.backup_dir, "RAG_CACHE_DIR": s.rag_cache_dir,
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
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
        if root.parent.is_dir() and not any(root.parent.iterdir()):
            root.parent.rmdir()
