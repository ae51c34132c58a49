"""A pool process's clients: the embedding model loads when the retriever is built, before any
generation's deadline starts, and once per process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devmatrix.config import Settings
from devmatrix.jobs import run

pytestmark = pytest.mark.unit


class _Model:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def load(self) -> None:
        self.events.append("model loaded")


def test_the_retriever_comes_with_its_model_loaded_once_per_process(monkeypatch):
    events: list[str] = []

    def create_retriever(settings: Settings):
        events.append("retriever built")
        return SimpleNamespace(embedding_model=_Model(events))

    monkeypatch.setattr(run, "create_retriever", create_retriever)
    context = run.WorkerContext(Settings())
    first = context.retriever()
    assert events == ["retriever built", "model loaded"]  # loaded before the agent gets it
    assert context.retriever() is first and len(events) == 2  # the process's one retriever
