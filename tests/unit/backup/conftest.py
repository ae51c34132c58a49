"""Doubles of what a backup talks to that is not ours: the Chroma server (tests/_fixtures/chroma_double.py,
over real HTTP) and the native provider's supervisor."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _fixtures import chroma_double
from _fixtures.chroma_double import FakeChroma, handler_for
from _fixtures.http_server import http_server
from devmatrix.backup import chroma


class RecordingProvider:
    """The native provider as a restore sees it: its name, and what it was asked to stop and start
    (the supervisor itself is the integration tier's)."""

    name = "native"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def up(self, names: tuple[str, ...]) -> None:
        self.calls.append(("up", tuple(names)))

    def down(self, names: tuple[str, ...]) -> None:
        self.calls.append(("down", tuple(names)))


@pytest.fixture
def native_provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def chroma_server() -> Iterator[FakeChroma]:
    """A FakeChroma listening on 127.0.0.1; its ``url`` is what Settings' chroma_url would be."""
    fake = FakeChroma()
    with http_server(handler_for(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


@pytest.fixture
def scratch_chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scratch server `backup.verify` starts (`chroma run …`, from stack's chroma_server_command)
    is the double (tests/_fixtures/chroma_double.py); it records how it was started in the file returned."""
    def double_command(host: str, port: int, path: Path) -> list[str]:
        return [sys.executable, chroma_double.__file__, "run", "--host", host, "--port", str(port), "--path", str(path)]

    record = tmp_path / "scratch-chroma.json"
    monkeypatch.setenv("CHROMA_DOUBLE_RECORD", str(record))
    monkeypatch.setattr(chroma, "chroma_server_command", double_command)
    return record
