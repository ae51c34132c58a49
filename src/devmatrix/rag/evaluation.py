"""Retrieval quality on the labelled query set (eval_queries.toml).

Each query is embedded and ranked once against the seeded collection (similarity,
no threshold, RANK_DEPTH deep); every metric is then computed from those rankings:

- recall@1, recall@3: of the queries that have expected examples, the share of their
  expected ids found in the top 1 / top 3 (most queries expect one id);
- MRR: the mean of 1/rank of the first expected id (0 when it is not in the ranking);
- at a threshold: what the agent would really put in a prompt (the top RAG_TOP_K with
  similarity ≥ threshold). Precision: the share of those results that were expected
  (anything retrieved for an off-topic negative is wrong); recall: the share of
  expected (query, id) pairs retrieved; negatives clean: the share of off-topic
  queries that retrieve nothing.

The sweep repeats the last for a range of thresholds; RAG_SIMILARITY_THRESHOLD's
default was chosen from it (docs/benchmarks.md has the table).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from devmatrix.errors import RAGError
from devmatrix.rag.corpus import load_corpus
from devmatrix.rag.retriever import Retriever

RANK_DEPTH = 10  # candidates ranked per query: enough for MRR to see a near miss
SWEEP = tuple(round(0.30 + 0.05 * i, 2) for i in range(11))  # 0.30 … 0.80
KINDS = ("direct", "paraphrase", "negative")


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    expected: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class Ranked:
    query: LabelledQuery
    hits: list[tuple[str, float]]  # (example id, similarity), best first

    def rank_of_first_expected(self) -> int | None:
        return next((i for i, (hit, _) in enumerate(self.hits, 1) if hit in self.query.expected), None)


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    precision: float | None  # None: nothing was retrieved at all
    recall: float
    negatives_clean: float
    retrieved: int

    @property
    def f1(self) -> float:
        p = self.precision or 0.0
        return 0.0 if p + self.recall == 0 else 2 * p * self.recall / (p + self.recall)


@dataclass(frozen=True)
class Quality:
    queries: int
    positives: int
    negatives: int
    top_k: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    at_threshold: AtThreshold
    sweep: list[AtThreshold]
    best_threshold: float  # the sweep's highest F1 (ties: the higher threshold)
    misses: list[dict] = field(default_factory=list)  # positive queries whose top 1 is not expected

    def to_dict(self) -> dict:
        out = asdict(self)
        for row in [out["at_threshold"], *out["sweep"]]:
            row["f1"] = round(AtThreshold(**row).f1, 4)
        return out


def queries_file() -> Path:
    return Path(str(resources.files("devmatrix.rag") / "eval_queries.toml"))


def load_queries(path: Path | None = None) -> list[LabelledQuery]:
    """The labelled set; every expected id must be in the corpus, negatives expect nothing."""
    path = path or queries_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))["query"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise RAGError(f"cannot read the labelled query set {path}: {error}",
                       fix="restore it from git (each [[query]] has text, expected, kind)") from None
    known = {example.id for example in load_corpus()}
    queries, problems = [], []
    for number, item in enumerate(raw, 1):
        query = LabelledQuery(str(item.get("text", "")), tuple(item.get("expected", ())), item.get("kind", ""))
        unknown = sorted(set(query.expected) - known)
        if not query.text.strip() or query.kind not in KINDS or unknown \
                or (query.kind == "negative") != (not query.expected):
            problems.append(f"query {number} {query.text[:40]!r}: kind {query.kind!r}, unknown ids {unknown}")
        queries.append(query)
    if problems:
        raise RAGError(f"{path}: " + "; ".join(problems),
                       fix=f"kind is one of {', '.join(KINDS)}; ids from rag/examples/; negatives expect []")
    return queries


def rank(retriever: Retriever, queries: list[LabelledQuery], depth: int = RANK_DEPTH) -> list[Ranked]:
    """Each query's ranking, with no threshold (the metrics apply thresholds themselves)."""
    return [Ranked(q, [(h.id, h.similarity) for h in retriever.retrieve(q.text, top_k=depth, threshold=0.0)])
            for q in queries]


def at_threshold(ranked: list[Ranked], threshold: float, top_k: int) -> AtThreshold:
    retrieved = correct = wanted = found = clean = negatives = 0
    for r in ranked:
        kept = [hit for hit, similarity in r.hits[:top_k] if similarity >= threshold]
        retrieved += len(kept)
        correct += sum(hit in r.query.expected for hit in kept)
        wanted += len(r.query.expected)
        found += len(set(kept) & set(r.query.expected))
        if not r.query.expected:
            negatives += 1
            clean += not kept
    return AtThreshold(threshold, round(correct / retrieved, 4) if retrieved else None,
                       round(found / wanted, 4) if wanted else 0.0,
                       round(clean / negatives, 4) if negatives else 1.0, retrieved)


def _recall_at(ranked: list[Ranked], k: int) -> float:
    return sum(len(set(h for h, _ in r.hits[:k]) & set(r.query.expected)) / len(r.query.expected)
               for r in ranked) / len(ranked)


def quality(ranked: list[Ranked], *, threshold: float, top_k: int) -> Quality:
    positives = [r for r in ranked if r.query.expected]
    if not positives:
        raise RAGError("the labelled query set has no query with expected examples",
                       fix="add [[query]] entries with expected ids to eval_queries.toml")
    ranks = [r.rank_of_first_expected() for r in positives]
    sweep = [at_threshold(ranked, t, top_k) for t in SWEEP]
    best = max(sweep, key=lambda row: (round(row.f1, 4), row.threshold))
    misses = [{"query": r.query.text, "expected": list(r.query.expected), "kind": r.query.kind,
               "got": [{"id": h, "similarity": round(s, 3)} for h, s in r.hits[:3]]}
              for r, rank_ in zip(positives, ranks, strict=True) if rank_ != 1]
    return Quality(len(ranked), len(positives), len(ranked) - len(positives), top_k,
                   round(_recall_at(positives, 1), 4), round(_recall_at(positives, 3), 4),
                   round(sum(1 / x for x in ranks if x) / len(positives), 4),
                   at_threshold(ranked, threshold, top_k), sweep, best.threshold, misses)
