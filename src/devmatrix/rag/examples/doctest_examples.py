# id: doctest_examples
# title: Documentation that is tested with doctest
# topic: testing
# tags: doctest, docstring, examples, testing
def word_frequencies(text: str) -> dict[str, int]:
    """Count words, ignoring case and punctuation.

    >>> word_frequencies("The cat and the hat.")
    {'the': 2, 'cat': 1, 'and': 1, 'hat': 1}
    >>> word_frequencies("")
    {}
    """
    counts: dict[str, int] = {}
    for raw in text.lower().split():
        word = raw.strip(".,;:!?\"'()")
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts


if __name__ == "__main__":
    import doctest

    failures, tried = doctest.testmod()
    assert failures == 0 and tried == 2
