"""`invoke rag.*`: seed the example corpus into Chroma, query it, show its stats."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from devmatrix.rag.retriever import RetrievalStrategy
from devmatrix.setup import rag as ops_rag
from devmatrix.tasks._common import (
    Choice,
    Number,
    console,
    err_console,
    positional,
    print_json,
    print_result,
    settings,
    task,
)

THRESHOLD = Number(0, 1, default="RAG_SIMILARITY_THRESHOLD")


@task(default=True, help={
    "recreate": "delete the collection first and embed everything again",
    "dry": "say what would be embedded and upserted; change nothing",
    "json": "print the result as JSON",
})
def seed(c, recreate=False, dry=False, json=False):
    """Embed the curated corpus and upsert it into Chroma (idempotent: unchanged examples are skipped)."""
    with Progress(TextColumn("  embedding + upserting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True, disable=json) as progress:
        bar = progress.add_task("seed", total=None)
        result = ops_rag.seed(settings(), recreate=recreate, dry=dry,
                              on_progress=lambda done, total: progress.update(bar, completed=done, total=total))
    if json:
        print_json(result.to_dict())
    else:
        print_result(result)


@task(help={
    "text": "what to look for, e.g. \"memoized fibonacci\"",
    "strategy": "similarity (default) or mmr (relevant and diverse)",
    "top_k": "how many results (default RAG_TOP_K)",
    "threshold": "minimum similarity 0-1 (default RAG_SIMILARITY_THRESHOLD); 0 shows everything",
    "json": "print the results as JSON",
    "code": "print each result's code too",
}, checks={"strategy": Choice(tuple(s.value for s in RetrievalStrategy)),
           "top_k": Number(1, 100, default="RAG_TOP_K"), "threshold": THRESHOLD})
def query(c, text, strategy="similarity", top_k=0, threshold=-1.0, json=False, code=False):
    """Retrieve the corpus examples closest to TEXT, with their similarity scores."""
    text = positional(text, task="rag.query", name="text")
    found = ops_rag.query(settings(), text, strategy=strategy, top_k=top_k or None,
                          threshold=None if threshold < 0 else threshold)
    if json:
        print_json(found)
        return
    console.print(f"  {len(found['results'])} result(s), {found['strategy']}, {found['seconds'] * 1000:.1f} ms"
                  + (f" (after {found['model_load_seconds']:.1f} s loading the embedding model: a text not in"
                     " the cache)" if found["model_load_seconds"] else "")
                  + (f"; {found['below_threshold']} below the threshold" if found["below_threshold"] else "")
                  + ("; the query was truncated to what the model reads" if found["truncated"] else ""))
    for rank, hit in enumerate(found["results"], 1):
        console.print(f"  {rank}. [bold]{hit['id']}[/]  similarity {hit['similarity']:.3f}"
                      f"  — {hit['metadata'].get('title', '')} [{hit['metadata'].get('topic', '')}]")
        if code:
            console.print(hit["document"], markup=False)


@task(help={"json": "print the stats as JSON"})
def stats(c, json=False):
    """Collection size, corpus coverage, topics, embedding model and cache hit rate."""
    info = ops_rag.stats(settings())
    if json:
        print_json(info)
        return
    cache = info["cache"]
    console.print(f"  collection {info['collection']} on {info['server']}: {info['count']} documents,"
                  f" corpus {info['corpus']}, missing or stale: {len(info['missing_or_stale'])}")
    console.print(f"  topics: {', '.join(f'{t} {n}' for t, n in sorted(info['topics'].items()))}")
    console.print(f"  model {info['embedding_model']} ({info['dimension']}-d); cache: "
                  + (f"{cache['entries']} entries at {cache['path']}" if isinstance(cache, dict) else cache))


@task(name="eval", help={
    "threshold": "similarity floor to score at, 0-1 (default RAG_SIMILARITY_THRESHOLD)",
    "json": "print the metrics, the sweep and the misses as JSON",
}, checks={"threshold": THRESHOLD})
def evaluate(c, threshold=-1.0, json=False):
    """Retrieval quality on the labelled query set: recall@1, recall@3, MRR, precision/recall at the threshold."""
    result = ops_rag.evaluate(settings(), threshold=None if threshold < 0 else threshold)
    if json:
        print_json(result.to_dict())
        return
    at = result.at_threshold
    console.print(f"  {result.queries} labelled queries ({result.positives} with expected examples,"
                  f" {result.negatives} off-topic); top {result.top_k}")
    console.print(f"  recall@1 {result.recall_at_1:.3f} · recall@3 {result.recall_at_3:.3f}"
                  f" · MRR {result.mrr:.3f}")
    table = Table(title="at each similarity threshold (top RAG_TOP_K results)", title_justify="left")
    for column in ("threshold", "precision", "recall", "F1", "negatives clean", "retrieved"):
        table.add_column(column, justify="right")
    for row in result.sweep:
        marks = [m for m, hit in (("in force", row.threshold == at.threshold),
                                  ("best F1", row.threshold == result.best_threshold)) if hit]
        table.add_row(f"{row.threshold:.2f}" + (f" ({', '.join(marks)})" if marks else ""),
                      "-" if row.precision is None else f"{row.precision:.3f}", f"{row.recall:.3f}",
                      f"{row.f1:.3f}", f"{row.negatives_clean:.0%}", str(row.retrieved))
    console.print(table)
    if at.threshold not in {row.threshold for row in result.sweep}:
        console.print(f"  at {at.threshold:g} (in force): precision {at.precision}, recall {at.recall:.3f},"
                      f" negatives clean {at.negatives_clean:.0%}")
    for miss in result.misses:
        got = ", ".join(f"{g['id']} {g['similarity']:.2f}" for g in miss["got"])
        console.print(f"  miss ({miss['kind']}): {miss['query']!r} expected {', '.join(miss['expected'])};"
                      f" got {got}", markup=False)


@task(name="ship-vectors", help={"dry": "say what would be embedded; write nothing"})
def ship_vectors(c, dry=False):
    """Recompute the corpus's shipped vectors (src/devmatrix/rag/examples/vectors.json) with the pinned model.

    For developers, after an example or the embedding model changed: seeding then needs no model.
    """
    print_result(ops_rag.ship_vectors(settings(), dry=dry))
