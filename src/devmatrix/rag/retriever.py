"""Retrieval: similarity top-k, or MMR (relevant and different from each other).

MMR (Carbonell & Goldstein, 1998) picks, one at a time, the candidate that
maximises  lambda * sim(query, d) - (1 - lambda) * max sim(d, already picked),
from a wider candidate set fetched by similarity.

A retrieval returns the top_k nearest, whatever their similarity (the seed's §4.1 asks
``retrieve(query, top_k=2)`` for 2 results and gets them), and marks each with
``above_threshold`` against the similarity floor (RAG_SIMILARITY_THRESHOLD, or the
``threshold`` given). The floor applies where examples are used: ``Retrieval.relevant``
is what the agent puts in its prompt (format_examples_prompt) and what `invoke
rag.query` lists; the retriever itself never cuts top_k.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from devmatrix.config import Settings
from devmatrix.errors import RAGError
from devmatrix.monitoring.metrics import RAG_RETRIEVAL_DURATION
from devmatrix.rag.store import Hit, VectorStore, create_vector_store

MMR_FETCH_FACTOR = 4  # candidates fetched for MMR, per result wanted
MAX_QUERY_CHARS = 10_000_000  # above this a query is refused; below it, a long one is truncated


class RetrievalStrategy(StrEnum):
    SIMILARITY = "similarity"
    MMR = "mmr"


@dataclass(frozen=True)
class Retrieval:
    """What one query found: the top_k nearest, each marked ``above_threshold``. It is also
    the sequence of its results, as the seed uses it (§4.1: ``len(results)``,
    ``results[0].code``, ``for r in results``)."""

    query: str
    strategy: RetrievalStrategy
    results: list[Hit]
    truncated: bool  # the query was longer than the model reads: only its start was used
    seconds: float
    threshold: float = 0.0  # the similarity floor the results are marked against
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        marked = [replace(h, above_threshold=h.similarity >= self.threshold) for h in self.results]
        object.__setattr__(self, "results", marked)

    @property
    def relevant(self) -> list[Hit]:
        """The results at or above the threshold, nearest first: what goes into a prompt."""
        return [h for h in self.results if h.above_threshold]

    @property
    def below_threshold(self) -> int:
        """How many of the results are under the threshold."""
        return len(self.results) - len(self.relevant)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Hit:
        return self.results[index]

    def to_dict(self) -> dict[str, object]:
        """The relevant results (at or above the threshold), and how many of the top_k were not."""
        return {"query": self.query[:200], "strategy": self.strategy.value, "truncated": self.truncated,
                "seconds": round(self.seconds, 4), "threshold": self.threshold,
                "below_threshold": self.below_threshold,
                "results": [{"id": h.id, "similarity": round(h.similarity, 4), "metadata": h.metadata,
                             "document": h.document} for h in self.relevant]}


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_: float) -> list[int]:
    """Indices of ``k`` candidates chosen by MMR; vectors are unit-length rows."""
    if len(candidates) == 0:
        return []
    relevance = candidates @ query
    pairwise = candidates @ candidates.T
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(candidates)):
        redundancy = pairwise[:, chosen].max(axis=1)
        score = lambda_ * relevance - (1 - lambda_) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


class Retriever:
    def __init__(self, store: VectorStore, *, top_k: int, threshold: float, mmr_lambda: float) -> None:
        self.store = store
        self.embedding_model = store.embedding_model
        self.top_k = top_k
        self.threshold = threshold
        self.mmr_lambda = mmr_lambda

    def retrieve(self, query: str, strategy: RetrievalStrategy | str = RetrievalStrategy.SIMILARITY,
                 top_k: int | None = None, threshold: float | None = None) -> Retrieval:
        """The ``top_k`` (default RAG_TOP_K) nearest examples, each marked ``above_threshold``
        against ``threshold`` (default this retriever's); fewer only when the collection has fewer."""
        strategy = RetrievalStrategy(strategy)
        if not isinstance(query, str) or not query.strip():
            raise RAGError("the query is empty", fix="ask for something, e.g. 'memoized fibonacci'")
        if len(query) > MAX_QUERY_CHARS:
            raise RAGError(f"the query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}",
                           fix="send the part that describes what you need")
        k = top_k or self.top_k
        floor = self.threshold if threshold is None else threshold
        start = time.perf_counter()
        embedded = self.embedding_model.embed(query)
        if strategy is RetrievalStrategy.SIMILARITY:
            candidates = self.store.query(embedded.vector, k)
        else:
            pool = self.store.query(embedded.vector, k * MMR_FETCH_FACTOR, with_embeddings=True)
            picked = mmr_select(np.asarray(embedded.vector), np.asarray([h.embedding for h in pool]),
                                k, self.mmr_lambda)
            candidates = [pool[i] for i in picked]
        seconds = time.perf_counter() - start
        RAG_RETRIEVAL_DURATION.labels(strategy=strategy.value).observe(seconds)
        notes = ["the query was longer than the model reads (256 word pieces); only its start was used"
                 ] if embedded.truncated else []
        return Retrieval(query, strategy, candidates, embedded.truncated, seconds, floor, notes)


def create_retriever(store: VectorStore | None = None, settings: Settings | None = None) -> Retriever:
    """A retriever on the configured store, with RAG_TOP_K, RAG_MMR_LAMBDA and RAG_SIMILARITY_THRESHOLD
    (which marks the results; it never cuts them).

    Without ``store`` it opens the configured collection and never creates it: retrieving
    from an empty collection that was never seeded would be a silent no-op.
    """
    if store is None:
        store = create_vector_store(settings=settings, create=False)
    s = settings or store.settings
    return Retriever(store, top_k=s.rag_top_k, threshold=s.rag_similarity_threshold, mmr_lambda=s.rag_mmr_lambda)


def format_examples_prompt(retrieval: Retrieval) -> str:
    """The relevant examples (at or above the threshold) as a prompt section for the
    code-generation agent ('' if none)."""
    if not retrieval.relevant:
        return ""
    blocks = [
        f"### Example {i}: {h.metadata.get('title', h.id)} (similarity {h.similarity:.2f})\n```python\n"
        f"{h.document.strip()}\n```"
        for i, h in enumerate(retrieval.relevant, 1)
    ]
    return ("Relevant, tested examples from the DevMatrix corpus; follow their style where they"
            " apply:\n\n" + "\n\n".join(blocks))
