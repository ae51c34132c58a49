"""The shipped vectors are what the pinned model computes: seeding from them is seeding from the model."""

from __future__ import annotations

import math

import pytest

from devmatrix.config import Settings
from devmatrix.rag import shipped
from devmatrix.rag.embeddings import EmbeddingModel

pytestmark = pytest.mark.integration


def test_the_shipped_vectors_equal_the_pinned_models_own(settings: Settings):
    texts = shipped.shipped_texts()
    model = EmbeddingModel(settings.model_copy(update={"rag_cache_enabled": False}), cache=None, use_shipped=False)
    fresh = model.embed_many(texts)
    known = shipped.lookup(settings.rag_embedding_model, texts)
    for text, computed in zip(texts, fresh, strict=True):
        vector, truncated = known[text]
        assert truncated == computed.truncated, text.splitlines()[0]
        # float32 both ways; the same CPU kernels give the same numbers, allow the last bits to differ
        assert math.dist(vector, computed.vector) < 1e-4, text.splitlines()[0]
