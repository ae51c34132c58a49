"""Retrieval-quality metrics on hand-made rankings, and the labelled set's own rules."""

from __future__ import annotations

import pytest

from devmatrix.errors import RAGError
from devmatrix.rag.evaluation import RANK_DEPTH, LabelledQuery, Ranked, at_threshold, load_queries, quality, rank
from devmatrix.rag.store import Hit

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


def test_the_metrics_are_rounded_to_4_digits_as_the_report_shows_them():
    result = quality(RANKED, threshold=0.5, top_k=3)
    assert (result.recall_at_1, result.recall_at_3, result.mrr, result.top_k) == (0.3333, 0.6667, 0.5, 3)


def test_a_miss_shows_the_query_what_was_expected_and_the_top_3_it_got():
    ranked = [_ranked(("a",), ("a", 0.9)),
              _ranked(("b",), ("a", 0.61234), ("b", 0.5556), ("c", 0.1), ("d", 0.05), kind="paraphrase")]
    assert quality(ranked, threshold=0.5, top_k=3).misses == [
        {"query": "q", "expected": ["b"], "kind": "paraphrase",
         "got": [{"id": "a", "similarity": 0.612}, {"id": "b", "similarity": 0.556}, {"id": "c", "similarity": 0.1}]}]


# F1 by threshold: 0.60 → 0.8, 0.65 and 0.70 → 1.0 (a tie: the higher wins), 0.75 → 0.667, 0.80 → 0
SWEPT = [_ranked(("a",), ("a", 0.72), ("b", 0.62)), _ranked(("d",), ("d", 0.77)), _ranked((), ("x", 0.55))]


def test_the_best_threshold_is_the_highest_f1_and_a_tie_goes_to_the_higher_threshold():
    result = quality(SWEPT, threshold=0.5, top_k=3)
    assert [row.threshold for row in result.sweep] == [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
    assert result.best_threshold == 0.7


def test_the_report_gives_every_row_its_f1_rounded_to_4_digits():
    report = quality(SWEPT, threshold=0.75, top_k=3).to_dict()
    assert report["at_threshold"]["f1"] == 0.6667 and report["at_threshold"]["recall"] == 0.5
    assert [row["f1"] for row in report["sweep"]][6:] == [0.8, 1.0, 1.0, 0.6667, 0.0]
    assert report["best_threshold"] == 0.7 and report["queries"] == 3


def test_each_query_is_ranked_once_deep_and_without_a_threshold():
    asked = []

    class _Retriever:
        def retrieve(self, text: str, *, top_k: int, threshold: float) -> list[Hit]:
            asked.append((text, top_k, threshold))
            return [Hit("a", "", {}, 0.7), Hit("b", "", {}, 0.2)]

    query = LabelledQuery("memoized fibonacci", ("a",), "direct")
    ranked = rank(_Retriever(), [query])
    assert asked == [("memoized fibonacci", RANK_DEPTH, 0.0)]
    assert ranked == [Ranked(query, [("a", 0.7), ("b", 0.2)])]


def test_a_query_without_text_is_refused(tmp_path):
    bad = tmp_path / "q.toml"
    bad.write_text('[[query]]\nexpected = ["fibonacci_memo"]\nkind = "direct"\n')
    with pytest.raises(RAGError, match="query 1 '': kind 'direct'"):
        load_queries(bad)


def test_an_unreadable_query_set_is_named_with_how_to_restore_it(tmp_path):
    missing = tmp_path / "gone.toml"
    with pytest.raises(RAGError, match=f"cannot read the labelled query set {missing}") as raised:
        load_queries(missing)
    assert raised.value.fix == "restore it from git (each [[query]] has text, expected, kind)"
