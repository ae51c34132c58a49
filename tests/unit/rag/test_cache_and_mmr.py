"""The embedding cache (persistence, stats, corruption) and MMR selection, without the model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from devmatrix.rag.cache import EmbeddingCache
from devmatrix.rag.retriever import mmr_select

pytestmark = pytest.mark.unit


def test_entries_survive_a_restart_and_stats_count_hits_and_misses(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite3")
    assert cache.get_many("m", ["a", "b"]) == {}
    cache.put_many("m", {"a": ([0.5, 0.25], False), "b": ([1.0, 0.0], True)})
    cache.close()
    reopened = EmbeddingCache(tmp_path / "e.sqlite3")
    assert reopened.get_many("m", ["a", "b", "c"]) == {"a": ([0.5, 0.25], False), "b": ([1.0, 0.0], True)}
    stats = reopened.get_stats()
    assert (stats.hits, stats.misses, stats.entries) == (2, 1, 2) and stats.hit_rate == pytest.approx(2 / 3)
    reopened.close()


def test_keys_depend_on_the_model_and_ignore_whitespace(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite3")
    cache.put_many("model-a", {"hello  world": ([1.0], False)})
    assert "hello world" in cache.get_many("model-a", ["hello world"])
    assert cache.get_many("model-b", ["hello world"]) == {}
    cache.close()


def test_a_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "e.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    cache = EmbeddingCache(path)
    cache.put_many("m", {"a": ([1.0], False)})
    assert cache.get_many("m", ["a"]) == {"a": ([1.0], False)}
    assert len(list(tmp_path.glob("e.sqlite3.corrupt-*"))) == 1
    cache.close()


def test_the_stats_report_hits_misses_the_rate_to_4_digits_entries_and_the_file(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite3")
    cache.put_many("m", {"a": ([1.0], False), "b": ([2.0], False)})
    cache.get_many("m", ["a", "b", "c"])
    assert cache.get_stats().to_dict() == {"hits": 2, "misses": 1, "hit_rate": 0.6667, "entries": 2,
                                           "path": str(tmp_path / "e.sqlite3")}
    cache.close()


def test_the_cache_serves_other_threads_and_more_texts_than_one_sqlite_statement_binds(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite3")
    texts = [f"text {i}" for i in range(1201)]
    cache.put_many("m", {t: ([float(i)], False) for i, t in enumerate(texts)})
    with ThreadPoolExecutor(1) as worker:  # the API's worker threads share one cache
        found = worker.submit(cache.get_many, "m", texts).result()
    assert found == {t: ([float(i)], False) for i, t in enumerate(texts)}
    assert cache.get_stats().hits == 1201
    cache.close()


def test_mmr_prefers_a_different_candidate_over_a_near_duplicate():
    query = np.array([1.0, 0.0, 0.0])
    # 0 and 1 are near-duplicates, both a little closer to the query than 2
    candidates = np.array([[0.95, 0.31, 0.0], [0.94, 0.32, 0.05], [0.9, 0.0, 0.43]])
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    assert mmr_select(query, candidates, k=2, lambda_=0.5) == [0, 2]
    assert mmr_select(query, candidates, k=2, lambda_=1.0) == [0, 1]  # lambda 1 is plain similarity
    assert mmr_select(query, candidates[:0], k=2, lambda_=0.5) == []
