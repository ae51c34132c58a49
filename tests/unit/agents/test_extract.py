"""Reading replies: code blocks, file names, scores (hypothesis for the parsers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devmatrix.agents._extract import extract_code, module_name, parse_score, requested_path

pytestmark = pytest.mark.unit

# a block of only whitespace is no code (it is skipped, see below)
code_text = st.text(alphabet=st.characters(blacklist_characters="`"), min_size=1).filter(lambda s: s.strip())


@given(code=code_text, before=st.text(alphabet="abc \n"), after=st.text(alphabet="xyz \n"))
def test_the_first_fenced_block_is_extracted_whatever_surrounds_it(code, before, after):
    reply = f"{before}\n```python\n{code}\n```\n{after}"
    assert extract_code(reply) == code.strip("\n") + "\n"


def test_no_code_block_is_none_and_an_unclosed_block_still_counts():
    assert extract_code("I cannot help with that.") is None
    assert extract_code("```python\ndef f(") == "def f(\n"


@pytest.mark.parametrize("reply", ["```\n\n```python\ndef f():\n    return 1\n```",
                                   "```python\n```\n```py\ndef f():\n    return 1\n"])
def test_an_empty_block_before_the_code_is_skipped(reply):
    assert extract_code(reply) == "def f():\n    return 1\n"


def test_only_empty_blocks_are_none():
    assert extract_code("```\n```") is None and extract_code("```python\n\n```\n```\n```") is None


@given(score=st.floats(min_value=0, max_value=10, allow_nan=False).map(lambda f: round(f, 1)),
       form=st.sampled_from(["{}", "{}/10", "Score: {}", "score (0-10): {}", " {} because"]))
def test_every_score_form_parses_to_its_value(score, form):
    text = form.format(f"{score:g}")
    assert parse_score(text) == pytest.approx(score)


@pytest.mark.parametrize("reply", ["great code!", "", "11", "-3", "Score: ten"])
def test_a_reply_without_a_score_is_an_error_not_a_default(reply):
    with pytest.raises(ValueError, match="score"):
        parse_score(reply)


def test_an_echoed_prefill_is_skipped():
    assert parse_score("Score (0-10): 8\nbecause", prefill="Score (0-10):") == 8.0


def test_file_name_comes_from_the_first_definition():
    assert module_name("import x\n\ndef fibonacci(n):\n    return n\n", "g") == "fibonacci.py"
    assert module_name("class HTTPCalculator:\n    pass\n", "g") == "h_t_t_p_calculator.py"
    assert module_name("x = 1\n", "generated_ab") == "generated_ab.py"


def test_an_explicit_path_in_the_request_is_found():
    assert requested_path("write it to ../../etc/evil.py please") == "../../etc/evil.py"
    assert requested_path("Create a fibonacci function") is None
