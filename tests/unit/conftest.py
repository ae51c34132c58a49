"""Unit tests see only the defaults: no DevMatrix variable leaks in from the shell."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from devmatrix.config import ENV_FILE_VARIABLE, Settings
from devmatrix.stack.system import free_port


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*Settings.model_fields, ENV_FILE_VARIABLE]:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (from the kernel's backlog) and never answers: what a
    frozen server looks like from outside. The injected network failure of a unit test."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port where nothing listens: connections are refused, as during a restart."""
    return free_port()
