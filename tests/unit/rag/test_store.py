"""The vector store against a Chroma double (tests/_fixtures/chroma_client.py): what it
writes, what a query gives back, how an existing collection is opened and checked, and that a
dead server or a wrong collection is named with its fix."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from _fixtures import chroma_client
from devmatrix.config import Settings
from devmatrix.errors import CollectionMissing, RAGError, ServiceError
from devmatrix.monitoring.metrics import CHROMADB_COLLECTION_DOCUMENTS
from devmatrix.rag import store as store_module
from devmatrix.rag.store import DIMENSION_KEY, VectorStore, close_client, create_vector_store, require_examples

pytestmark = pytest.mark.unit

NAME = "rag-unit"
ADDRESS = "127.0.0.1:8001"  # Settings' defaults: what the messages name
VECTORS = {"same": [1.0, 0.0], "near": [0.6, 0.8], "across": [0.0, 1.0]}


@pytest.fixture
def model(fixed_model):
    return fixed_model(VECTORS)


def _seeded(chroma, metadata: dict | None, vectors: list[list[float]]) -> None:
    collection = chroma.client.get_or_create_collection(NAME, embedding_function=None, metadata=metadata)
    if vectors:
        collection.add(ids=[f"v{i}" for i in range(len(vectors))], embeddings=vectors)


def test_a_new_collection_ranks_by_cosine_similarity(chroma, model):
    with VectorStore(model, NAME) as store:
        store.upsert(list(VECTORS), [f"def {name}(): ..." for name in VECTORS],
                     [{"title": name} for name in VECTORS], embeddings=list(VECTORS.values()))
        hits = store.query([1.0, 0.0], 3)
    assert [(h.id, h.document, h.metadata) for h in hits] == [
        ("same", "def same(): ...", {"title": "same"}), ("near", "def near(): ...", {"title": "near"}),
        ("across", "def across(): ...", {"title": "across"})]
    # cosine: 1, 0.6 and 0 (Chroma's default L2 distance would give 1, 0.2 and -1)
    assert [h.similarity for h in hits] == pytest.approx([1.0, 0.6, 0.0], abs=1e-5)
    assert [h.embedding for h in hits] == [None, None, None]
    assert chroma.client.get_collection(NAME).metadata == {"hnsw:space": "cosine", DIMENSION_KEY: 2}


def test_a_query_can_bring_each_hits_vector_for_mmr(chroma, model):
    with VectorStore(model, NAME) as store:
        store.upsert(["near", "across"], ["a", "b"], [None, None], embeddings=[VECTORS["near"], VECTORS["across"]])
        hits = store.query([1.0, 0.0], 2, with_embeddings=True)
        assert [h.embedding for h in hits] == [pytest.approx(VECTORS["near"]), pytest.approx(VECTORS["across"])]
        assert [(h.id, h.metadata) for h in store.query([1.0, 0.0], 0)] == [("near", {})]  # at least one


def test_without_vectors_the_store_embeds_the_documents_with_its_model(chroma, model):
    with VectorStore(model, NAME) as store:
        store.add(["a", "b"], ["same", "across"], [None, None])
        assert [h.id for h in store.query([0.0, 1.0], 2)] == ["b", "a"]
    assert model.asked == [["same", "across"]]


def test_add_example_derives_the_id_from_the_code_and_updates_its_metadata(chroma, model):
    code = "same"
    expected_id = "example_" + hashlib.sha256(code.encode()).hexdigest()[:16]
    with VectorStore(model, NAME) as store:
        assert store.add_example(code) == expected_id
        assert store.add_example(code, {"title": "again"}) == expected_id
        assert store.count() == 1
        assert store.metadata_by_id() == {expected_id: {"title": "again"}}
        assert CHROMADB_COLLECTION_DOCUMENTS.labels(collection=NAME)._value.get() == 1
        store.delete([expected_id])
        assert store.count() == 0


@pytest.mark.parametrize("code", ["", "  \n", None])
def test_an_empty_example_is_refused(chroma, model, code):
    with VectorStore(model, NAME) as store, pytest.raises(RAGError, match="cannot index an empty example"):
        store.add_example(code)


def test_metadata_chroma_cannot_store_is_refused_with_the_rule(chroma, model):
    with VectorStore(model, NAME) as store, pytest.raises(RAGError, match=f"in '{NAME}'") as raised:
        store.add_example("same", {"nested": {"a": 1}})
    assert raised.value.fix == "metadata values must be str, int, float or bool, or lists of them"


def test_an_existing_collection_is_opened_without_creating_one(chroma, model):
    _seeded(chroma, {DIMENSION_KEY: 2, "hnsw:space": "cosine"}, [[1.0, 0.0]])
    with create_vector_store(model, NAME, create=False) as store:
        assert store.embedding_model is model and store.count() == 1
        assert [h.id for h in store.query([1.0, 0.0], 1)] == ["v0"]


def test_a_missing_collection_is_not_created_and_names_the_seed(chroma, model):
    with pytest.raises(CollectionMissing, match=f"collection '{NAME}' does not exist on {ADDRESS}") as raised:
        VectorStore(model, NAME, create=False)
    assert raised.value.fix == "`invoke rag.seed` creates and fills it"
    assert [c.name for c in chroma.client.list_collections()] == []
    assert [client.closed for client in chroma.opened] == [True]


@pytest.mark.parametrize(("metadata", "vectors"), [
    ({DIMENSION_KEY: 3}, []),                    # recorded when it was made
    (None, [[1.0, 0.0, 0.0]]),                  # made elsewhere: read from a stored vector
])
def test_a_collection_of_other_sized_vectors_is_refused(chroma, model, metadata, vectors):
    _seeded(chroma, metadata, vectors)
    with pytest.raises(RAGError, match=f"'{NAME}' on {ADDRESS} holds 3-d vectors; the embedding model makes 2-d"):
        VectorStore(model, NAME)
    assert [client.closed for client in chroma.opened] == [True]


def test_a_server_that_drops_the_connection_is_named_with_what_was_being_done(chroma, model, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise httpx.ConnectError("connection reset")

    monkeypatch.setattr(chroma_client.Client, "get_or_create_collection", refuse)
    with pytest.raises(ServiceError, match=re.escape("opening the collection at http://127.0.0.1:8001: ConnectError")):
        VectorStore(model, NAME)
    assert [client.closed for client in chroma.opened] == [True]


def test_drop_deletes_the_collection_and_close_closes_the_client(chroma, model):
    store = VectorStore(model, NAME)
    store.drop()
    store.close()
    assert [c.name for c in chroma.client.list_collections()] == []
    assert [client.closed for client in chroma.opened] == [True]


def test_require_examples_counts_a_seeded_collection(chroma):
    _seeded(chroma, None, [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    assert require_examples(Settings(chromadb_collection=NAME)) == 3
    assert [client.closed for client in chroma.opened] == [True]


def test_require_examples_names_a_missing_or_empty_collection_and_the_way_around_it(chroma):
    settings = Settings(chromadb_collection=NAME)
    with pytest.raises(CollectionMissing, match=f"'{NAME}' does not exist on {ADDRESS}") as missing:
        require_examples(settings, asked_by="--rag")
    assert missing.value.fix == "`invoke rag.seed` creates and fills it, or ask without --rag"
    _seeded(chroma, None, [])
    with pytest.raises(CollectionMissing, match=f"collection '{NAME}' on {ADDRESS} is empty") as empty:
        require_examples(settings)
    assert empty.value.fix == '`invoke rag.seed` (phase1 does it), or ask without "enable_rag"'
    assert [client.closed for client in chroma.opened] == [True, True]


def test_require_examples_names_a_dead_server_as_chroma(chroma, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(chroma_client.Client, "get_collection", refuse)
    with pytest.raises(ServiceError, match=re.escape("opening the collection at http://127.0.0.1:8001")) as raised:
        require_examples(Settings(chromadb_collection=NAME))
    assert raised.value.service == "chroma"
    assert [client.closed for client in chroma.opened] == [True]


def test_close_client_closes_the_http_sessions_of_the_client_and_of_its_admin_client():
    closed = []

    class _Session:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    class _Owner:
        def __init__(self, name: str) -> None:
            self._server = type("_Server", (), {"_session": _Session(name)})()

        def close(self) -> None:
            closed.append("client")

    client = _Owner("client session")
    client._admin_client = _Owner("admin session")
    close_client(client)
    assert closed == ["client session", "admin session", "client"]


def test_the_store_opens_the_client_the_settings_point_at(chroma, model, monkeypatch):
    asked = []
    connect = store_module.chroma_client  # the chroma fixture's

    def connect_and_note(settings: Settings):
        asked.append((settings.chromadb_host, settings.chromadb_port))
        return connect(settings)

    monkeypatch.setattr(store_module, "chroma_client", connect_and_note)
    VectorStore(model, NAME, Settings(chromadb_port=8123)).close()
    assert asked == [("127.0.0.1", 8123)]
