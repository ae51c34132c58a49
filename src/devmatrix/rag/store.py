"""The vector store: a Chroma server over HTTP, at the host and port it was told.

An unreachable, dead or frozen server is a ServiceError naming chroma, raised
within the client's deadline (devmatrix.clients.chroma_client); there is no local
or in-memory fallback. (The original system ignored host/port and quietly opened
a local store.)
Vectors always come from our EmbeddingModel: Chroma's own embedding function
is never used, so it never tries to download one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from devmatrix.clients import chroma_client, chroma_error, chroma_sessions
from devmatrix.config import Settings
from devmatrix.errors import CollectionMissing, RAGError
from devmatrix.monitoring.metrics import CHROMADB_COLLECTION_DOCUMENTS
from devmatrix.rag.embeddings import EmbeddingModel, create_embedding_model

DIMENSION_KEY = "embedding_dim"


@dataclass(frozen=True)
class Hit:
    id: str
    document: str
    metadata: dict
    similarity: float  # cosine similarity, 1 - Chroma's cosine distance
    embedding: list[float] | None = None
    # similarity >= the retrieval's threshold: set by Retrieval; None for a hit straight from the store
    above_threshold: bool | None = None

    @property
    def code(self) -> str:
        """The seed's name for the example's text (§4.1: ``results[0].code``)."""
        return self.document


class VectorStore:
    def __init__(self, embedding_model: EmbeddingModel, collection_name: str | None = None,
                 settings: Settings | None = None, *, create: bool = True) -> None:
        """Open `collection_name` on the configured server; `create=False` (checks,
        queries) never creates it: a missing collection is a RAGError."""
        self.settings = settings or embedding_model.settings
        self.embedding_model = embedding_model
        self.collection_name = collection_name or self.settings.chromadb_collection
        self.address = f"{self.settings.chromadb_host}:{self.settings.chromadb_port}"
        self.client = chroma_client(self.settings)
        try:
            with self._guard("opening the collection"):
                if create:
                    self.collection = self.client.get_or_create_collection(
                        self.collection_name, embedding_function=None,
                        metadata={"hnsw:space": "cosine", DIMENSION_KEY: embedding_model.dimension})
                else:
                    self.collection = self._existing_collection()
                self._check_dimension()
        except BaseException:
            close_client(self.client)
            raise

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """A dead or frozen server inside becomes ServiceError("chroma", …) within the deadline."""
        try:
            yield
        except httpx.TransportError as error:  # connect refused/reset, read timeout
            raise chroma_error(self.settings, what, error) from error

    def _existing_collection(self):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(self.collection_name, embedding_function=None)
        except NotFoundError:
            raise CollectionMissing(f"collection {self.collection_name!r} does not exist on {self.address}",
                           fix="`invoke rag.seed` creates and fills it") from None

    def _check_dimension(self) -> None:
        stored = (self.collection.metadata or {}).get(DIMENSION_KEY)
        if stored is None and self.collection.count():
            sample = self.collection.peek(1)["embeddings"]
            stored = len(sample[0]) if len(sample) else None
        if stored is not None and int(stored) != self.embedding_model.dimension:
            raise RAGError(
                f"collection {self.collection_name!r} on {self.address} holds {stored}-d vectors;"
                f" the embedding model makes {self.embedding_model.dimension}-d ones",
                fix="use another CHROMADB_COLLECTION, or delete this one (`invoke rag.seed --recreate`)")

    # --- writing -------------------------------------------------------------------
    def upsert(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict | None],
               embeddings: Sequence[Sequence[float]] | None = None) -> None:
        if embeddings is None:
            embeddings = [e.vector for e in self.embedding_model.embed_many(list(documents))]
        with self._guard("upsert"):
            self.collection.upsert(ids=list(ids), documents=list(documents), metadatas=list(metadatas),
                                   embeddings=[list(e) for e in embeddings])

    add = upsert  # the seed calls add(); upsert makes a repeated add harmless

    def add_example(self, code: str, metadata: dict | None = None) -> str:
        """The seed's call (§2.2, §4.1): index one example; return its id.

        The id is derived from the code, so adding the same code again updates its
        metadata instead of making a duplicate. Metadata values are str, int, float, bool
        (or lists of them).
        """
        if not isinstance(code, str) or not code.strip():
            raise RAGError(f"cannot index an empty example ({code!r})", fix="pass the example's code")
        example_id = "example_" + hashlib.sha256(code.encode()).hexdigest()[:16]
        try:  # Chroma refuses an empty metadata dict; None is "no metadata"
            self.upsert([example_id], [code], [dict(metadata) if metadata else None])
        except ValueError as error:  # Chroma's own check of the metadata values
            raise RAGError(f"cannot index the example in {self.collection_name!r}: {error}",
                           fix="metadata values must be str, int, float or bool, or lists of them") from None
        return example_id

    def delete(self, ids: Sequence[str]) -> None:
        with self._guard("delete"):
            self.collection.delete(ids=list(ids))

    def count(self) -> int:
        with self._guard("count"):
            count = self.collection.count()
        CHROMADB_COLLECTION_DOCUMENTS.labels(collection=self.collection_name).set(count)
        return count

    def metadata_by_id(self) -> dict[str, dict]:
        """Every id with its metadata (no vectors): cheap for a few thousand entries."""
        with self._guard("get"):
            got = self.collection.get(include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"] or [], strict=True))

    # --- reading -------------------------------------------------------------------
    def query(self, vector: Sequence[float], n: int, *, with_embeddings: bool = False) -> list[Hit]:
        include = ["documents", "metadatas", "distances", *(["embeddings"] if with_embeddings else [])]
        with self._guard("query"):
            found = self.collection.query(query_embeddings=[list(vector)], n_results=max(1, n), include=include)
        embeddings = found.get("embeddings")
        return [
            Hit(id_, doc or "", meta or {}, 1.0 - float(dist),
                [float(x) for x in embeddings[0][i]] if with_embeddings else None)
            for i, (id_, doc, meta, dist) in enumerate(zip(
                found["ids"][0], found["documents"][0], found["metadatas"][0], found["distances"][0],
                strict=True))
        ]

    def drop(self) -> None:
        """Delete the whole collection (tests, `rag.seed --recreate`)."""
        with self._guard("delete_collection"):
            self.client.delete_collection(self.collection_name)

    delete_collection = drop  # the seed's name (§2.1 fixture cleanup)

    def close(self) -> None:
        close_client(self.client)

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def close_client(client) -> None:
    """Close a chromadb HttpClient *and* its HTTP connections.

    chromadb 1.5.9's `close()` releases the client's System but never closes the
    httpx sessions of its HTTP APIs (the client's and its admin client's, which
    checked the tenant), so their sockets stay open until garbage collection.
    Close both first; the version is pinned and a test checks nothing is left open.
    """
    for session in chroma_sessions(client):
        session.close()
    client.close()


def require_examples(settings: Settings, *, asked_by: str = '"enable_rag"') -> int:
    """What a caller that sends retrieval elsewhere (the API, to a worker) checks before it does:
    the collection exists on the server and holds examples. Its count; CollectionMissing
    otherwise. No embedding model is loaded for it."""
    from chromadb.errors import NotFoundError

    name, address = settings.chromadb_collection, f"{settings.chromadb_host}:{settings.chromadb_port}"
    client = chroma_client(settings)
    try:
        count = client.get_collection(name, embedding_function=None).count()
    except NotFoundError:
        raise CollectionMissing(f"collection {name!r} does not exist on {address}",
                                fix=f"`invoke rag.seed` creates and fills it, or ask without {asked_by}") from None
    except httpx.TransportError as error:
        raise chroma_error(settings, "opening the collection", error) from error
    finally:
        close_client(client)
    if count == 0:
        raise CollectionMissing(f"RAG is enabled but the collection {name!r} on {address} is empty",
                                fix=f"`invoke rag.seed` (phase1 does it), or ask without {asked_by}")
    return count


def create_vector_store(embedding_model: EmbeddingModel | None = None, collection_name: str | None = None,
                        settings: Settings | None = None, *, create: bool = True) -> VectorStore:
    """The seed's call: a store on the configured Chroma server (CHROMADB_HOST/PORT).

    ``create=False`` opens an existing collection only (RAGError naming the fix if it is missing).
    """
    if embedding_model is None:
        embedding_model = create_embedding_model(settings)
    return VectorStore(embedding_model, collection_name, settings, create=create)
