"""What the rag unit tests share: Chroma in process, and an embedding model of fixed vectors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from devmatrix.config import Settings
from devmatrix.rag import store


class ChromaHandle:
    """What `chroma_client` hands the code under test: the in-process client, with ``close()``
    recorded instead of done (the test's own client stays open to read back what was written)."""

    def __init__(self, client) -> None:
        self._client = client
        self.closed = False

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def close(self) -> None:
        self.closed = True


@dataclass
class Chroma:
    client: object  # chromadb's ClientAPI, for the test to set up and read back
    opened: list[ChromaHandle]


@pytest.fixture
def chroma(monkeypatch: pytest.MonkeyPatch) -> Iterator[Chroma]:
    """Chroma's own engine in this process, in memory (chromadb.EphemeralClient), where the code
    under test would reach the server at CHROMADB_HOST:PORT: the store's calls and Chroma's answers
    are real, only the HTTP between them is not (the integration tier has the server). Every
    client the code opened is in ``opened``; the collections go at teardown."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
    client.reset()  # the in-process engine is shared: start from no collection
    opened: list[ChromaHandle] = []

    def connect(_settings: Settings) -> ChromaHandle:
        opened.append(ChromaHandle(client))
        return opened[-1]

    monkeypatch.setattr(store, "chroma_client", connect)
    yield Chroma(client, opened)
    client.reset()
    client.close()


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
