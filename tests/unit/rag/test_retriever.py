"""A Retrieval is also the sequence of its results, as the seed's §4.1 uses it."""

from __future__ import annotations

import pytest

from devmatrix.rag.retriever import Retrieval, RetrievalStrategy
from devmatrix.rag.store import Hit

pytestmark = pytest.mark.unit


def test_a_retrieval_reads_like_the_seeds_list_of_results():
    hits = [Hit("a", "def add(a, b): return a + b", {"version": 1}, 0.9),
            Hit("b", "def sub(a, b): return a - b", {"version": 2}, 0.4)]
    found = Retrieval("addition", RetrievalStrategy.MMR, hits, truncated=False, seconds=0.01)
    assert len(found) == 2
    assert found[0].code == "def add(a, b): return a + b" and found[0].similarity == 0.9
    assert [r.metadata["version"] for r in found] == [1, 2]
    assert found[-1] is hits[-1]
    assert not Retrieval("nothing", RetrievalStrategy.SIMILARITY, [], truncated=False, seconds=0.0)
