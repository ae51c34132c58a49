"""RAG on the real Chroma server with the real model; each test collection is `test_*` and deleted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devmatrix.config import Settings
from devmatrix.rag import EmbeddingModel, VectorStore, create_embedding_model
from devmatrix.rag.corpus import load_corpus


@pytest.fixture(scope="module")
def rag_settings(settings: Settings, tmp_path_factory) -> Settings:
    """The real servers, with this module's own embedding cache."""
    return settings.model_copy(update={"rag_cache_dir": tmp_path_factory.mktemp("rag_cache")})


@pytest.fixture(scope="module")
def model(rag_settings: Settings) -> Iterator[EmbeddingModel]:
    embedding_model = create_embedding_model(rag_settings)
    yield embedding_model
    embedding_model.close()


@pytest.fixture(scope="module")
def seeded_store(model: EmbeddingModel, rag_settings: Settings) -> Iterator[VectorStore]:
    """The whole corpus in a collection of this module's own."""
    corpus = load_corpus()
    store = VectorStore(model, f"test_rag_{uuid.uuid4().hex[:8]}", rag_settings)
    store.upsert([e.id for e in corpus], [e.document for e in corpus], [e.metadata for e in corpus])
    yield store
    store.drop()
    store.close()


@pytest.fixture
def scratch_store(model: EmbeddingModel, rag_settings: Settings) -> Iterator[VectorStore]:
    store = VectorStore(model, f"test_rag_{uuid.uuid4().hex[:8]}", rag_settings)
    yield store
    store.drop()
    store.close()
