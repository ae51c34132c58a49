"""A Retrieval is also the sequence of its results, as the seed's §4.1 uses it."""

from __future__ import annotations

import pytest

from _fixtures.retrieval import HitsStore
from devmatrix.rag.retriever import Retrieval, RetrievalStrategy, Retriever, format_examples_prompt
from devmatrix.rag.store import Hit

pytestmark = pytest.mark.unit


def test_a_retrieval_reads_like_the_seeds_list_of_results():
    hits = [Hit("a", "def add(a, b): return a + b", {"version": 1}, 0.9),
            Hit("b", "def sub(a, b): return a - b", {"version": 2}, 0.4)]
    found = Retrieval("addition", RetrievalStrategy.MMR, hits, truncated=False, seconds=0.01)
    assert len(found) == 2
    assert found[0].code == "def add(a, b): return a + b" and found[0].similarity == 0.9
    assert [r.metadata["version"] for r in found] == [1, 2]
    assert found[-1].id == hits[-1].id and found[-1].above_threshold is True  # marked against threshold 0
    assert not Retrieval("nothing", RetrievalStrategy.SIMILARITY, [], truncated=False, seconds=0.0)


# --- the threshold marks, it never cuts top_k ----------------------------------------------
# The store and the embedding model are the boundary here (tests/_fixtures/retrieval.py).
def _store(similarities: list[float]) -> HitsStore:
    return HitsStore([Hit(f"h{i}", f"def f{i}(): ...", {"i": i}, s) for i, s in enumerate(similarities)])


def test_top_k_is_never_cut_by_the_threshold():
    found = Retriever(_store([0.71, 0.34, 0.30]), top_k=3, threshold=0.45, mmr_lambda=0.5).retrieve("add", top_k=2)
    assert [h.id for h in found] == ["h0", "h1"] and len(found) == 2  # §4.1: top_k=2 gives 2
    assert [h.above_threshold for h in found] == [True, False]
    assert [h.id for h in found.relevant] == ["h0"] and found.below_threshold == 1 and found.threshold == 0.45


def test_an_explicit_threshold_of_0_marks_every_result_relevant():
    found = Retriever(_store([0.9, 0.1, 0.0]), top_k=3, threshold=0.45, mmr_lambda=0.5).retrieve("x", threshold=0)
    assert found.threshold == 0 and [h.id for h in found.relevant] == ["h0", "h1", "h2"]
    assert found.below_threshold == 0


def test_a_hit_exactly_at_the_threshold_is_relevant():
    found = Retriever(_store([0.46, 0.45, 0.44]), top_k=3, threshold=0.45, mmr_lambda=0.5).retrieve("x")
    assert [h.above_threshold for h in found] == [True, True, False]


def test_the_prompt_and_the_json_hold_the_relevant_results_only():
    found = Retriever(_store([0.8, 0.2]), top_k=2, threshold=0.45, mmr_lambda=0.5).retrieve("x")
    prompt = format_examples_prompt(found)
    assert "def f0()" in prompt and "def f1()" not in prompt
    as_dict = found.to_dict()
    assert [r["id"] for r in as_dict["results"]] == ["h0"] and as_dict["below_threshold"] == 1
    assert format_examples_prompt(Retriever(_store([0.1]), top_k=1, threshold=0.45, mmr_lambda=0.5)
                                  .retrieve("x")) == ""
