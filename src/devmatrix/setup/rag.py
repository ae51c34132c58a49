"""`invoke rag.*` and phase1's rag step: seed the corpus into Chroma, check it, query it, stats.

Seeding is an idempotent upsert. Each stored example carries the digest of its
code, so a second run compares ids and digests (one cheap HTTP call) and
skips without loading the embedding model when nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.errors import RAGError
from devmatrix.rag import shipped
from devmatrix.rag.corpus import KNOWN_ID, KNOWN_QUERY, Example, load_corpus
from devmatrix.rag.embeddings import EmbeddingModel, create_embedding_model
from devmatrix.rag.evaluation import Quality, load_queries, quality, rank
from devmatrix.rag.retriever import RetrievalStrategy, create_retriever
from devmatrix.rag.store import VectorStore
from devmatrix.results import CheckResult, Status, timed

KNOWN_MIN_SIMILARITY = 0.6
SEED_BATCH = 16


@contextmanager
def open_store(settings: Settings, collection: str | None = None, *, create: bool = True) -> Iterator[VectorStore]:
    """A store with its own embedding model; both closed on exit. Only seeding creates the collection."""
    model = create_embedding_model(settings)
    try:
        with VectorStore(model, collection, settings, create=create) as store:
            yield store
    finally:
        model.close()


def pending(store: VectorStore, corpus: list[Example]) -> list[Example]:
    """Examples missing from the store or stored with another digest."""
    stored = store.metadata_by_id()
    return [e for e in corpus if (stored.get(e.id) or {}).get("digest") != e.digest]


def seed(settings: Settings, *, collection: str | None = None, recreate: bool = False, dry: bool = False,
         on_progress: Callable[[int, int], None] = lambda done, total: None) -> CheckResult:
    """Upsert every changed corpus example; report what was done."""
    corpus = load_corpus()
    if recreate and not dry:
        with open_store(settings, collection) as store:
            store.drop()
    with timed() as elapsed, open_store(settings, collection) as store:
        todo = corpus if recreate else pending(store, corpus)
        name = f"{store.collection_name} on {store.address}"
        if not todo:
            return CheckResult("rag seed", Status.SKIPPED,
                               f"{name}: all {len(corpus)} examples present and unchanged",
                               seconds=elapsed(), data={"count": store.count(), "upserted": 0})
        if dry:
            return CheckResult("rag seed", Status.SKIPPED,
                               f"would embed and upsert {len(todo)} of {len(corpus)} examples into {name}",
                               seconds=elapsed(), data={"would_upsert": [e.id for e in todo]})
        on_progress(0, len(todo))
        for start in range(0, len(todo), SEED_BATCH):
            batch = todo[start:start + SEED_BATCH]
            store.upsert([e.id for e in batch], [e.document for e in batch], [e.metadata for e in batch])
            on_progress(min(start + SEED_BATCH, len(todo)), len(todo))
        store.embedding_model.embed(KNOWN_QUERY)  # cached now: validate never loads the model
        count = store.count()
        stats = store.embedding_model.cache.get_stats().to_dict() if store.embedding_model.cache else {}
        return CheckResult("rag seed", Status.PASS,
                           f"{name}: upserted {len(todo)} of {len(corpus)} examples; {count} in the collection",
                           seconds=elapsed(), data={"count": count, "upserted": len(todo), "cache": stats})


def ship_vectors(settings: Settings, *, dry: bool = False) -> CheckResult:
    """Recompute the corpus's shipped vectors with the pinned model (after an example or the model changed)."""
    texts = shipped.shipped_texts()
    target = shipped.shipped_path()
    if dry:
        return CheckResult("rag vectors", Status.SKIPPED, f"would embed {len(texts)} texts with"
                           f" {shipped.model_fingerprint(settings.rag_embedding_model)} into {target}")
    with timed() as elapsed:
        model = EmbeddingModel(settings, cache=None, use_shipped=False)
        embedded = model.embed_many(texts)
        target.write_text(shipped.render(settings.rag_embedding_model,
                                         {t: (e.vector, e.truncated) for t, e in zip(texts, embedded, strict=True)}),
                          encoding="utf-8")
    return CheckResult("rag vectors", Status.PASS, f"wrote {len(texts)} vectors for"
                       f" {shipped.model_fingerprint(settings.rag_embedding_model)} to {target}", seconds=elapsed())


def phase_step(settings: Settings, *, dry: bool = False) -> list[CheckResult]:
    """phase1's rag step: seed when something is missing or changed (RAG_ENABLED=false skips it)."""
    if not settings.rag_enabled:
        return [CheckResult("rag", Status.SKIPPED, "RAG_ENABLED=false: not seeded")]
    return [seed(settings, dry=dry)]


def check(settings: Settings) -> list[CheckResult]:
    """validate's RAG checks: the corpus is all there, and a known query finds its example."""
    if not settings.rag_enabled:
        return [CheckResult("rag", Status.NOT_CHECKED, "RAG_ENABLED=false", critical=False)]
    readiness.chroma(settings)  # a dead or frozen server fails here within the probe deadline
    corpus = load_corpus()
    try:
        with timed() as elapsed, open_store(settings, create=False) as store:
            count = store.count()
            missing = pending(store, corpus)
            results = [CheckResult(
                "rag corpus", Status.FAIL if missing else Status.PASS,
                f"{count} documents in {store.collection_name}; corpus of {len(corpus)}"
                + (f"; {len(missing)} missing or stale (e.g. {missing[0].id}) — fix: `invoke rag.seed`"
                   if missing else " all present"), seconds=elapsed())]
            with timed() as query_elapsed:
                found = create_retriever(store, settings).retrieve(KNOWN_QUERY, threshold=0.0).results
            top = found[0] if found else None
            ok = top is not None and top.id == KNOWN_ID and top.similarity > KNOWN_MIN_SIMILARITY
            detail = (f"{KNOWN_QUERY!r} → {top.id} (similarity {top.similarity:.2f})" if top
                      else f"{KNOWN_QUERY!r} → nothing")
            if not ok:
                detail += f"; expected {KNOWN_ID} with similarity > {KNOWN_MIN_SIMILARITY} — fix: `invoke rag.seed`"
            results.append(CheckResult("rag query", Status.PASS if ok else Status.FAIL, detail,
                                       seconds=query_elapsed()))
            return results
    except RAGError as error:
        return [CheckResult("rag", Status.FAIL, str(error))]


def query(settings: Settings, text: str, *, strategy: str = "similarity", top_k: int | None = None,
          threshold: float | None = None) -> dict:
    with open_store(settings, create=False) as store:
        retrieval = create_retriever(store, settings).retrieve(
            text, RetrievalStrategy(strategy), top_k=top_k, threshold=threshold)
        found = retrieval.to_dict()
        # A new text loads the embedding model in this process first (seconds); that is the
        # command's start-up, reported apart, not the query's time (issue 22).
        loading = store.embedding_model.load_seconds
        found["model_load_seconds"] = round(loading, 3)
        found["seconds"] = max(0.0, found["seconds"] - loading)
        return found


def evaluate(settings: Settings, *, threshold: float | None = None) -> Quality:
    """Retrieval quality of the seeded collection on the labelled query set (rag/evaluation.py)."""
    queries = load_queries()
    with open_store(settings, create=False) as store:
        ranked = rank(create_retriever(store, settings), queries)
    return quality(ranked, top_k=settings.rag_top_k,
                   threshold=settings.rag_similarity_threshold if threshold is None else threshold)


def stats(settings: Settings) -> dict:
    corpus = load_corpus()
    with open_store(settings, create=False) as store:
        topics: dict[str, int] = {}
        for example in corpus:
            topics[example.topic] = topics.get(example.topic, 0) + 1
        cache = store.embedding_model.cache
        return {"collection": store.collection_name, "server": store.address, "count": store.count(),
                "corpus": len(corpus), "missing_or_stale": [e.id for e in pending(store, corpus)],
                "topics": topics, "embedding_model": store.embedding_model.model_id,
                "dimension": store.embedding_model.dimension,
                "cache": cache.get_stats().to_dict() if cache else "disabled (RAG_CACHE_ENABLED=false)"}
