"""Fixtures for ops tests: scratch stacks and databases (the provider and the CLI: tests/integration/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _backup_stack import clean, stack  # noqa: F401 - scratch-stack fixtures, started only where asked for

from devmatrix.config import Settings
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port


@pytest.fixture
def scratch_stack(tmp_path: Path) -> Iterator:
    """Build a native provider on its own state dir and free ports; shut it down after."""
    made: list[NativeProvider] = []

    def make(**overrides) -> NativeProvider:
        ports = {"redis_port": free_port(), "chromadb_port": free_port(),
                 "postgres_port": free_port(), "llm_port": free_port()}
        settings = Settings(**{"devmatrix_state_dir": tmp_path / "state", "llm_backend": "local",
                               **ports, **overrides})
        made.append(NativeProvider(settings, env_file=tmp_path / ".env.test",
                                   echo=lambda _: None))
        return made[-1]

    yield make
    for provider in made:
        provider.down()


@pytest.fixture
def scratch_database(settings: Settings) -> Iterator[Settings]:
    """Settings pointing at a throwaway database, dropped after the test."""
    from devmatrix.setup import db

    scratch = settings.model_copy(update={"postgres_db": f"devmatrix_scratch_{uuid.uuid4().hex[:8]}"})
    yield scratch
    conn = db._connect(scratch, db.MAINTENANCE_DB)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch.postgres_db}" WITH (FORCE)')
    conn.close()
