"""The retriever's boundary for the unit tier: a store that answers fixed hits, and the embedding
model of the query. What is tested with them is the retriever's own logic (threshold, MMR, the
prompt); the store and the model are tested on their own (tests/unit/rag/test_store.py,
test_embeddings.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devmatrix.rag.store import Hit


@dataclass(frozen=True)
class Embedded:
    vector: tuple[float, ...]
    truncated: bool = False


class QueryModel:
    """Every query embeds to ``vector``; one longer than ``truncates_above`` characters is marked
    truncated (the real model reads 256 word pieces)."""

    def __init__(self, vector: Sequence[float], truncates_above: int | None = None) -> None:
        self.vector, self.truncates_above = tuple(vector), truncates_above

    def embed(self, text: str) -> Embedded:
        return Embedded(self.vector, self.truncates_above is not None and len(text) > self.truncates_above)


class HitsStore:
    """``hits``, nearest first as Chroma returns them; each query's ``(k, with_embeddings)`` in ``asked``."""

    def __init__(self, hits: Sequence[Hit], query: Sequence[float] = (1.0, 0.0),
                 truncates_above: int | None = None) -> None:
        self.embedding_model = QueryModel(query, truncates_above)
        self.hits = list(hits)
        self.asked: list[tuple[int, bool]] = []

    def query(self, _vector: Sequence[float], k: int, with_embeddings: bool = False) -> list[Hit]:
        self.asked.append((k, with_embeddings))
        return self.hits[:k]
