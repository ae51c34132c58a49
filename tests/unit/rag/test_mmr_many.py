"""MMR beyond the second pick: each next result is the one least like ALL those already picked
(not only the first or the last), and the retriever asks the store for MMR_FETCH_FACTOR x k."""

from __future__ import annotations

import numpy as np
import pytest

from _fixtures.retrieval import HitsStore
from devmatrix.rag.retriever import MMR_FETCH_FACTOR, RetrievalStrategy, Retriever, mmr_select
from devmatrix.rag.store import Hit

pytestmark = pytest.mark.unit

QUERY = np.array([1.0, 0.0, 0.0, 0.0])
# 0 and 4 are near-duplicates, both the nearest; 1 and 2 are near-duplicates in another direction;
# 3 is the least near, and unlike every other
CANDIDATES = np.array([[0.95, 0.31, 0, 0], [0.7, 0, 0.71, 0], [0.72, 0, 0.69, 0.05], [0.6, 0, 0, 0.8],
                       [0.94, 0.33, 0.02, 0]])
CANDIDATES = CANDIDATES / np.linalg.norm(CANDIDATES, axis=1, keepdims=True)


@pytest.mark.parametrize(("k", "picked"), [
    (1, [0]),
    (2, [0, 2]),
    (3, [0, 2, 3]),  # not 1 (a near-duplicate of 2) nor 4 (of 0): unlike both picks, not only the last
    (4, [0, 2, 3, 4]),
    (5, [0, 2, 3, 4, 1]),
])
def test_each_pick_is_the_one_least_like_every_pick_so_far(k, picked):
    assert mmr_select(QUERY, CANDIDATES, k=k, lambda_=0.5) == picked


def test_the_first_pick_is_the_nearest_wherever_it_stands_in_the_candidates():
    # the retriever's pool comes nearest first from Chroma; mmr_select itself must not rely on it
    reversed_order = CANDIDATES[::-1]
    assert mmr_select(QUERY, reversed_order, k=1, lambda_=0.5) == [4]


def test_more_wanted_than_there_are_gives_each_candidate_once():
    assert sorted(mmr_select(QUERY, CANDIDATES, k=9, lambda_=0.5)) == [0, 1, 2, 3, 4]


def test_lambda_1_is_plain_similarity_and_0_is_plain_diversity():
    assert mmr_select(QUERY, CANDIDATES, k=3, lambda_=1.0) == [0, 4, 2]  # nearest first
    assert mmr_select(QUERY, CANDIDATES, k=3, lambda_=0.0) == [0, 3, 1]  # least like the picks


def _store() -> HitsStore:
    """The candidates as Chroma answers them: nearest first, with their embeddings."""
    order = np.argsort(-(CANDIDATES @ QUERY))
    return HitsStore([Hit(f"h{i}", f"def f{i}(): ...", {"i": int(i)}, float(CANDIDATES[i] @ QUERY),
                          embedding=list(CANDIDATES[i])) for i in order], query=QUERY)


def test_the_retriever_fetches_a_wider_pool_and_returns_k_diverse_results():
    store = _store()
    found = Retriever(store, top_k=3, threshold=0.0, mmr_lambda=0.5).retrieve("x", strategy=RetrievalStrategy.MMR)
    assert store.asked == [(3 * MMR_FETCH_FACTOR, True)]
    assert [h.id for h in found] == ["h0", "h2", "h3"]
    assert found.strategy is RetrievalStrategy.MMR


def test_similarity_asks_for_k_and_keeps_the_stores_order():
    store = _store()
    found = Retriever(store, top_k=3, threshold=0.0, mmr_lambda=0.5).retrieve("x", top_k=4)
    assert store.asked == [(4, False)]
    assert [h.id for h in found] == ["h0", "h4", "h2", "h1"]
