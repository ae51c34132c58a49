"""Retrieval-quality metrics on hand-made rankings, and the labelled set's own rules."""

from __future__ import annotations

import pytest

from devmatrix.errors import RAGError
from devmatrix.rag.evaluation import LabelledQuery, Ranked, at_threshold, load_queries, quality

pytestmark = pytest.mark.unit


def _ranked(expected: tuple[str, ...], *hits: tuple[str, float], kind: str = "direct") -> Ranked:
    return Ranked(LabelledQuery("q", expected, kind if expected else "negative"), list(hits))


RANKED = [
    _ranked(("a",), ("a", 0.8), ("b", 0.5), ("c", 0.2)),   # found first
    _ranked(("b",), ("a", 0.6), ("b", 0.55), ("c", 0.1)),  # found second
    _ranked(("c",), ("a", 0.4), ("b", 0.3), ("d", 0.2)),   # not in the top 3
    _ranked((), ("a", 0.35), ("b", 0.1)),                   # off-topic
]


def test_recall_at_k_and_mrr_count_where_the_expected_example_ranks():
    result = quality(RANKED, threshold=0.5, top_k=3)
    assert (result.positives, result.negatives) == (3, 1)
    assert result.recall_at_1 == pytest.approx(1 / 3, abs=1e-4)
    assert result.recall_at_3 == pytest.approx(2 / 3, abs=1e-4)
    assert result.mrr == pytest.approx((1 + 1 / 2 + 0) / 3, abs=1e-4)
    assert [m["expected"] for m in result.misses] == [["b"], ["c"]]


def test_precision_and_recall_at_a_threshold_are_what_the_prompt_would_get():
    # ≥ 0.5 keeps a, b (query 1) and a, b (query 2): 2 of 4 expected; 2 of 3 pairs found
    row = at_threshold(RANKED, 0.5, top_k=3)
    assert (row.retrieved, row.precision, row.recall) == (4, 0.5, pytest.approx(2 / 3, abs=1e-4))
    assert row.negatives_clean == 1.0
    # ≥ 0.3 also gives the negative "a": it is counted wrong, and the negative is not clean
    low = at_threshold(RANKED, 0.3, top_k=3)
    assert low.negatives_clean == 0.0 and low.retrieved == 7
    # top_k cuts before the threshold does
    assert at_threshold(RANKED, 0.0, top_k=1).retrieved == 4


def test_nothing_retrieved_has_no_precision_rather_than_a_perfect_one():
    row = at_threshold(RANKED, 0.99, top_k=3)
    assert row.precision is None and row.recall == 0.0 and row.f1 == 0.0


def test_the_labelled_set_is_big_enough_and_every_id_is_in_the_corpus():
    queries = load_queries()
    positives = [q for q in queries if q.expected]
    assert len(queries) >= 40 and len(positives) >= 30
    assert {q.kind for q in queries} == {"direct", "paraphrase", "negative"}
    assert "Create a REST API for a todo list" in {q.text for q in queries}


def test_a_label_naming_an_unknown_example_is_refused(tmp_path):
    bad = tmp_path / "q.toml"
    bad.write_text('[[query]]\ntext = "x"\nexpected = ["no_such_example"]\nkind = "direct"\n')
    with pytest.raises(RAGError, match="unknown ids \\['no_such_example'\\]"):
        load_queries(bad)
