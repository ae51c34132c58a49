"""The part of a chromadb client that devmatrix.rag.store uses, in memory and in pure Python: the
double of the Chroma server for the unit tier (the integration tier has the real server).

Chroma's own in-process engine (chromadb.EphemeralClient) is no stand-in under mutmut: its Rust
runtime does not survive a fork, and mutmut forks each mutant's run from a process that already
ran the tests, so every call hung until mutmut's timeout and counted as a kill (docs/testing.md).
What this double answers is what Chroma 1.x answers for the same calls: cosine or squared-L2
distances by the collection's ``hnsw:space`` (L2 when unset), ``NotFoundError`` for a missing
collection, ``ValueError`` for a metadata value it cannot store, no vectors unless asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chromadb.errors import NotFoundError

_SCALARS = (str, int, float, bool)
_DEFAULT_INCLUDE = ("documents", "metadatas", "distances")


def _distance(space: str, a: Sequence[float], b: Sequence[float]) -> float:
    if space == "cosine":
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        return 1.0 - dot / (math.hypot(*a) * math.hypot(*b))
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


class Collection:
    def __init__(self, name: str, metadata: dict | None) -> None:
        self.name, self.metadata = name, metadata
        self.records: dict[str, tuple[list[float], str | None, dict | None]] = {}  # id → vector, document, metadata

    def count(self) -> int:
        return len(self.records)

    def peek(self, limit: int = 10) -> dict:
        ids = list(self.records)[:limit]
        return {"ids": ids, "embeddings": [self.records[i][0] for i in ids]}

    def upsert(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]], documents: Sequence[str] | None = None,
               metadatas: Sequence[dict | None] | None = None) -> None:
        if embeddings is None:
            raise ValueError("You must provide an embedding function to compute embeddings")
        documents = documents or [None] * len(ids)
        metadatas = metadatas or [None] * len(ids)
        for metadata in metadatas:
            for value in (metadata or {}).values():
                if not isinstance(value, (*_SCALARS, list)):
                    raise ValueError(f"Expected metadata value to be a str, int, float, bool or list, got {value!r}")
        for id_, vector, document, metadata in zip(ids, embeddings, documents, metadatas, strict=True):
            self.records[id_] = ([float(x) for x in vector], document, metadata)

    add = upsert

    def delete(self, ids: Sequence[str]) -> None:
        for id_ in ids:
            self.records.pop(id_, None)

    def get(self, include: Sequence[str] = ("metadatas", "documents")) -> dict:
        return {"ids": list(self.records),
                "metadatas": [r[2] for r in self.records.values()] if "metadatas" in include else None}

    def query(self, query_embeddings: Sequence[Sequence[float]], n_results: int = 10,
              include: Sequence[str] | None = None) -> dict:
        include = _DEFAULT_INCLUDE if include is None else include
        space = (self.metadata or {}).get("hnsw:space", "l2")
        ranked = sorted((_distance(space, query_embeddings[0], r[0]), i) for i, r in self.records.items())[:n_results]
        ids = [i for _, i in ranked]
        return {"ids": [ids],
                "distances": [[d for d, _ in ranked]] if "distances" in include else None,
                "documents": [[self.records[i][1] for i in ids]] if "documents" in include else None,
                "metadatas": [[self.records[i][2] for i in ids]] if "metadatas" in include else None,
                "embeddings": [[self.records[i][0] for i in ids]] if "embeddings" in include else None}


class Client:
    """A chromadb client of one server: its collections by name."""

    def __init__(self) -> None:
        self.collections: dict[str, Collection] = {}
        self.closed = False

    def create_collection(self, name: str, embedding_function=None, metadata: dict | None = None) -> Collection:
        if name in self.collections:
            raise ValueError(f"Collection [{name}] already exists")
        self.collections[name] = Collection(name, metadata)
        return self.collections[name]

    def get_or_create_collection(self, name: str, embedding_function=None, metadata: dict | None = None) -> Collection:
        return self.collections.get(name) or self.create_collection(name, metadata=metadata)

    def get_collection(self, name: str, embedding_function=None) -> Collection:
        if name not in self.collections:
            raise NotFoundError(f"Collection [{name}] does not exist")
        return self.collections[name]

    def delete_collection(self, name: str) -> None:
        if self.collections.pop(name, None) is None:
            raise NotFoundError(f"Collection [{name}] does not exist")

    def list_collections(self) -> list[Collection]:
        return list(self.collections.values())

    def close(self) -> None:
        self.closed = True
