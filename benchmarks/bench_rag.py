"""Benchmark RAG on the real Chroma server and the real embedding model (issue 5).

1. retrieval latency p50/p95 at 30, 1k and 10k documents, warm embedding cache,
   similarity and MMR, against the baseline "raw Chroma query + one uncached embedding"
   (targets: p95 at 10k ≤ 20 ms and ≤ 2× that baseline);
2. embedding cache hit vs miss (target ≥ 100×);
3. seeding throughput in docs/s: the corpus and 1k texts with a cold cache (embedding +
   upsert), and 10k precomputed vectors (upsert only);
4. retrieval quality on the labelled query set (rag/eval_queries.toml): recall@1, recall@3,
   MRR, and precision/recall at each threshold, the one in force marked (its own section).

The large collections hold synthetic documents with random unit vectors: the server's
search cost depends on the count and the dimension, not on what the text says. Every
collection is a scratch one, dropped at the end; the embedding cache is a temp dir.
Usage: python benchmarks/bench_rag.py [--quality]   (--quality: only section 4, in seconds)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import chromadb
import numpy as np

from devmatrix.config import load_settings
from devmatrix.ops import rag as ops_rag
from devmatrix.ops.bench_report import write_section
from devmatrix.rag import RetrievalStrategy, Retriever, VectorStore, create_embedding_model
from devmatrix.rag.corpus import load_corpus
from devmatrix.rag.retriever import MMR_FETCH_FACTOR
from devmatrix.rag.store import close_client

SIZES = (30, 1_000, 10_000)
ROUNDS = 200  # timed retrievals per size and strategy
QUERIES = [f"{topic} number {i}" for i in range(10) for topic in (
    "memoized fibonacci", "binary search in a sorted list", "FastAPI endpoint with validation",
    "hash a password with bcrypt", "read a CSV file safely")]
UPSERT_BATCH = 1_000
RNG = np.random.default_rng(20261126)


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def timed_samples(fn: Callable[[int], object], rounds: int) -> list[float]:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def unit_vectors(n: int, dim: int) -> np.ndarray:
    vectors = RNG.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(store: VectorStore, n: int) -> float:
    """Upsert n synthetic documents with precomputed vectors; seconds taken."""
    vectors = unit_vectors(n, store.embedding_model.dimension)
    start = time.perf_counter()
    for lo in range(0, n, UPSERT_BATCH):
        hi = min(n, lo + UPSERT_BATCH)
        store.upsert([f"doc{i}" for i in range(lo, hi)],
                     [f"synthetic document {i} about topic {i % 97}" for i in range(lo, hi)],
                     [{"title": f"synthetic {i}", "topic": str(i % 97)} for i in range(lo, hi)],
                     embeddings=vectors[lo:hi].tolist())
    return time.perf_counter() - start


def retrieval_at(size: int, model, settings, raw_client) -> dict:
    name = f"bench_rag_{size}_{uuid.uuid4().hex[:6]}"
    store = VectorStore(model, name, settings)
    try:
        upsert_s = fill(store, size)
        retriever = Retriever(store, top_k=settings.rag_top_k, threshold=0.0, mmr_lambda=settings.rag_mmr_lambda)
        for query in QUERIES:  # warm the embedding cache and the server
            retriever.retrieve(query)
        result = {"size": size, "upsert_docs_per_s": size / upsert_s}
        for strategy in RetrievalStrategy:
            samples = timed_samples(lambda i, s=strategy: retriever.retrieve(QUERIES[i % len(QUERIES)], s), ROUNDS)
            result[strategy.value] = (percentile(samples, 50), percentile(samples, 95))
        raw = raw_client.get_collection(name, embedding_function=None)
        encoder = model.model

        def baseline(i: int) -> None:  # what a caller without our layer pays: encode, then query
            vector = encoder.encode([f"{QUERIES[i % len(QUERIES)]} / {i}"], normalize_embeddings=True,
                                    show_progress_bar=False)[0]
            raw.query(query_embeddings=[vector.tolist()], n_results=settings.rag_top_k,
                      include=["documents", "metadatas", "distances"])

        samples = timed_samples(baseline, ROUNDS)
        result["baseline"] = (percentile(samples, 50), percentile(samples, 95))
        return result
    finally:
        store.drop()
        store.close()


def cache_speedup(model) -> tuple[float, float]:
    """Median seconds of embed() for 50 new texts (miss), then the same texts again (hit)."""
    texts = [f"cache probe {i}: merge two sorted lists without recursion" for i in range(50)]
    misses = timed_samples(lambda i: model.embed(texts[i]), len(texts))
    hits = timed_samples(lambda i: model.embed(texts[i]), len(texts))
    return statistics.median(misses), statistics.median(hits)


def seeding_throughput(settings) -> dict:
    """docs/s with a cold embedding cache (model already loaded): the corpus, then 1k texts."""
    corpus = load_corpus()
    texts = [f"Synthetic example {i}: a Python function that handles case {i} of topic {i % 31}"
             for i in range(1_000)]
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_rag_seed_") as cache_dir:
        model = create_embedding_model(settings.model_copy(update={"rag_cache_dir": Path(cache_dir)}))
        model.embed("load the model before timing")
        store = VectorStore(model, f"bench_rag_seed_{uuid.uuid4().hex[:6]}", settings)
        try:
            start = time.perf_counter()
            store.upsert([e.id for e in corpus], [e.document for e in corpus], [e.metadata for e in corpus])
            out["corpus"] = (len(corpus), len(corpus) / (time.perf_counter() - start))
            start = time.perf_counter()
            for lo in range(0, len(texts), 100):
                batch = texts[lo:lo + 100]
                store.upsert([f"t{lo + i}" for i in range(len(batch))], batch, [{"n": str(lo)}] * len(batch))
            out["texts"] = (len(texts), len(texts) / (time.perf_counter() - start))
        finally:
            store.drop()
            store.close()
            model.close()
    return out


def retrieval_quality(settings) -> None:
    """Section 4: the labelled query set against the seeded collection (`invoke rag.eval`)."""
    result = ops_rag.evaluate(settings)
    at = result.at_threshold
    rows = "\n".join(
        f"| {row.threshold:.2f}{' (in force)' if row.threshold == at.threshold else ''}"
        f" | {'-' if row.precision is None else f'{row.precision:.3f}'} | {row.recall:.3f} | {row.f1:.3f}"
        f" | {row.negatives_clean:.0%} | {row.retrieved} |" for row in result.sweep)
    misses = "\n".join(f"- ({m['kind']}) {m['query']!r}: expected {', '.join(m['expected'])}, got "
                        + ", ".join(f"{g['id']} {g['similarity']:.2f}" for g in m["got"])
                        for m in result.misses) or "- none"
    body = f"""
`invoke rag.eval` on the seeded collection `{settings.chromadb_collection}`: {result.queries} labelled
queries written by hand (`src/devmatrix/rag/eval_queries.toml`): {result.positives} with expected
examples (direct and paraphrased), {result.negatives} off-topic that should retrieve nothing.
Top {result.top_k} (RAG_TOP_K), similarity strategy.

| recall@1 | recall@3 | MRR |
| ---: | ---: | ---: |
| {result.recall_at_1:.3f} | {result.recall_at_3:.3f} | {result.mrr:.3f} |

| threshold | precision | recall | F1 | negatives clean | retrieved |
| ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

The default `RAG_SIMILARITY_THRESHOLD` is the sweep's best F1 ({result.best_threshold:.2f} here);
precision counts every result the agent would put in a prompt, so top 3 with one expected
example caps it. Queries whose expected example is not ranked first:

{misses}
"""
    write_section("rag_quality", "RAG retrieval quality (labelled queries)", body)
    print(body)


def main() -> None:
    settings = load_settings()
    retrieval_quality(settings)
    if "--quality" in sys.argv[1:]:
        return
    with tempfile.TemporaryDirectory(prefix="bench_rag_cache_") as cache_dir:
        bench_settings = settings.model_copy(update={"rag_cache_dir": Path(cache_dir)})
        model = create_embedding_model(bench_settings)
        raw_client = chromadb.HttpClient(host=settings.chromadb_host, port=settings.chromadb_port)
        try:
            rows = []
            for size in SIZES:
                print(f"retrieval at {size:,} documents …", flush=True)
                rows.append(retrieval_at(size, model, bench_settings, raw_client))
            print("embedding cache hit vs miss …", flush=True)
            miss_s, hit_s = cache_speedup(model)
        finally:
            close_client(raw_client)
            model.close()
    print("seeding throughput …", flush=True)
    seeding = seeding_throughput(settings)

    def ms(pair: tuple[float, float]) -> str:
        return f"{pair[0] * 1000:.1f} / {pair[1] * 1000:.1f}"

    table = "\n".join(
        f"| {r['size']:,} | {ms(r['similarity'])} | {ms(r['mmr'])} | {ms(r['baseline'])} |"
        f" {r['similarity'][1] / r['baseline'][1]:.2f}× | {r['upsert_docs_per_s']:,.0f} |"
        for r in rows)
    at_10k = rows[-1]
    p95_10k = at_10k["similarity"][1] * 1000
    ratio_10k = at_10k["similarity"][1] / at_10k["baseline"][1]
    body = f"""
Chroma server at {settings.chromadb_host}:{settings.chromadb_port}, embeddings
`{settings.rag_embedding_model}` ({settings.rag_embedding_dim}-d) on CPU, top_k {settings.rag_top_k}.
{ROUNDS} timed retrievals per cell over {len(QUERIES)} queries whose embeddings are cached
(warm cache); the baseline embeds a new text every time and queries Chroma directly.

| docs | similarity p50/p95 ms | MMR p50/p95 ms | baseline p50/p95 ms | p95 ÷ baseline | upserts/s |
| ---: | ---: | ---: | ---: | ---: | ---: |
{table}

| measure | value | target |
| --- | ---: | --- |
| similarity p95 at 10k, warm cache | {p95_10k:.1f} ms | ≤ 20 ms: {"met" if p95_10k <= 20 else "NOT met"} |
| that p95 ÷ baseline p95 | {ratio_10k:.2f}× | ≤ 2×: {"met" if ratio_10k <= 2 else "NOT met"} |
| embedding, cache miss (median of 50) | {miss_s * 1000:.2f} ms | |
| embedding, cache hit (median of 50) | {hit_s * 1000:.3f} ms | |
| hit speed-up | {miss_s / hit_s:,.0f}× | ≥ 100×: {"met" if miss_s / hit_s >= 100 else "NOT met"} |
| seeding the corpus, cold cache ({seeding['corpus'][0]} examples) | {seeding['corpus'][1]:.1f} docs/s | |
| seeding {seeding['texts'][0]:,} short texts, cold cache | {seeding['texts'][1]:.1f} docs/s | |

Seeding with a cold cache is bound by the embedding model (2 CPU cores); with vectors
given, the server takes the upsert rate in the first table. MMR fetches
{MMR_FETCH_FACTOR}× top_k candidates with their vectors, hence its extra cost.
"""
    write_section("rag", "RAG retrieval, embedding cache and seeding", body)
    print(body)


if __name__ == "__main__":
    main()
