"""What a retrieval promises its callers: a bad query is refused with a fix, `rag.query`'s JSON
has its documented shape, a truncated query says so, and the prompt numbers and names each example."""

from __future__ import annotations

import pytest

from _fixtures.retrieval import HitsStore
from devmatrix.config import Settings
from devmatrix.errors import CollectionMissing, RAGError
from devmatrix.rag.retriever import (
    MAX_QUERY_CHARS,
    Retrieval,
    RetrievalStrategy,
    Retriever,
    create_retriever,
    format_examples_prompt,
)
from devmatrix.rag.store import Hit

pytestmark = pytest.mark.unit


HITS = [Hit("h0", " def add(a, b):\n    return a + b \n", {"title": "Addition"}, 0.812345),
        Hit("h1", "def sub(a, b): ...", {}, 0.6), Hit("h2", "def nope(): ...", {}, 0.1)]


@pytest.fixture
def retriever() -> Retriever:
    return Retriever(HitsStore(HITS, truncates_above=1000), top_k=3, threshold=0.5, mmr_lambda=0.5)


@pytest.mark.parametrize("query", ["", "   \n", None, 42])
def test_an_empty_or_non_text_query_is_refused_with_a_fix(retriever, query):
    with pytest.raises(RAGError) as caught:
        retriever.retrieve(query)
    assert caught.value.message == "the query is empty" and "memoized fibonacci" in caught.value.fix


def test_a_query_at_the_limit_is_read_and_one_past_it_is_refused(retriever):
    assert len(retriever.retrieve("x" * MAX_QUERY_CHARS)) == 3
    with pytest.raises(RAGError) as caught:
        retriever.retrieve("x" * (MAX_QUERY_CHARS + 1))
    assert caught.value.message == f"the query is {MAX_QUERY_CHARS + 1:,} characters; the limit is {MAX_QUERY_CHARS:,}"
    assert caught.value.fix == "send the part that describes what you need"


def test_a_truncated_query_is_marked_and_noted(retriever):
    short, long = retriever.retrieve("add"), retriever.retrieve("add " * 400)
    assert not short.truncated and short.notes == []
    assert long.truncated and long.notes == [
        "the query was longer than the model reads (256 word pieces); only its start was used"]
    assert 0 <= long.seconds < 5


def test_the_json_holds_the_documented_keys_rounded_and_the_relevant_results(retriever):
    found = retriever.retrieve("q" * 300, strategy="similarity")
    as_dict = found.to_dict()
    assert set(as_dict) == {"query", "strategy", "truncated", "seconds", "threshold", "below_threshold", "results"}
    assert as_dict["query"] == "q" * 200 and as_dict["strategy"] == "similarity" and as_dict["truncated"] is False
    assert as_dict["threshold"] == 0.5 and as_dict["below_threshold"] == 1
    assert as_dict["seconds"] == round(found.seconds, 4)
    assert as_dict["results"] == [
        {"id": "h0", "similarity": 0.8123, "metadata": {"title": "Addition"},
         "document": " def add(a, b):\n    return a + b \n"},
        {"id": "h1", "similarity": 0.6, "metadata": {}, "document": "def sub(a, b): ..."}]


def test_the_prompt_numbers_each_example_and_names_it_by_title_or_id(retriever):
    prompt = format_examples_prompt(retriever.retrieve("add"))
    assert prompt.startswith("Relevant, tested examples from the DevMatrix corpus; follow their style where they"
                             " apply:\n\n### Example 1: Addition (similarity 0.81)\n```python\ndef add(a, b):\n"
                             "    return a + b\n```\n\n### Example 2: h1 (similarity 0.60)\n")
    assert prompt.endswith("```python\ndef sub(a, b): ...\n```")


def test_the_defaults_are_the_retrievers_own(retriever):
    found = retriever.retrieve("add")
    assert len(found) == 3 and found.threshold == 0.5 and found.strategy is RetrievalStrategy.SIMILARITY
    assert isinstance(found, Retrieval)


def test_create_retriever_opens_the_configured_collection_with_the_settings_values(chroma):
    settings = Settings(chromadb_collection="rag-unit", rag_top_k=7, rag_similarity_threshold=0.3,
                        rag_mmr_lambda=0.9, rag_cache_enabled=False)
    chroma.client.create_collection("rag-unit", embedding_function=None)
    retriever = create_retriever(settings=settings)
    assert (retriever.top_k, retriever.threshold, retriever.mmr_lambda) == (7, 0.3, 0.9)
    assert retriever.store.collection_name == "rag-unit" and retriever.store.settings is settings
    retriever.store.close()


def test_create_retriever_never_creates_a_collection_that_was_never_seeded(chroma):
    with pytest.raises(CollectionMissing, match="'rag-unit' does not exist"):
        create_retriever(settings=Settings(chromadb_collection="rag-unit", rag_cache_enabled=False))
    assert chroma.client.list_collections() == []
