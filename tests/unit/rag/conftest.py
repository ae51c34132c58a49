"""What the rag unit tests share: a Chroma double, and an embedding model of fixed vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from _fixtures import chroma_client
from devmatrix.config import Settings
from devmatrix.rag import store


@dataclass
class Chroma:
    client: chroma_client.Client  # the server's collections, for the test to set up and read back
    opened: list[chroma_client.Client]  # every client the code under test opened


@pytest.fixture
def chroma(monkeypatch: pytest.MonkeyPatch) -> Chroma:
    """The Chroma server that `chroma_client` would reach, as an in-memory double
    (tests/_fixtures/chroma_client.py). Each client the code opens shares its collections and
    records its own ``close()``."""
    server = chroma_client.Client()
    opened: list[chroma_client.Client] = []

    def connect(_settings: Settings) -> chroma_client.Client:
        client = chroma_client.Client()
        client.collections = server.collections
        opened.append(client)
        return client

    monkeypatch.setattr(store, "chroma_client", connect)
    return Chroma(server, opened)


@dataclass(frozen=True)
class Vector:
    vector: list[float]
    truncated: bool = False


class FixedModel:
    """The embedding model as the store sees it: a dimension and ``embed_many``; each text's vector
    is given by the test (our model is tested in test_embeddings.py)."""

    def __init__(self, vectors: dict[str, list[float]], dimension: int = 2) -> None:
        self.settings = Settings(rag_cache_enabled=False)
        self.vectors, self.dimension = vectors, dimension
        self.asked: list[list[str]] = []

    def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        self.asked.append(list(texts))
        return [Vector(self.vectors[t]) for t in texts]


@pytest.fixture
def fixed_model() -> type[FixedModel]:
    """FixedModel(vectors, dimension=2): text → the vector given."""
    return FixedModel
