# id: pytest_fixtures_parametrize
# title: pytest tests with fixtures, parametrize and pytest.raises
# topic: testing
# tags: pytest, unit tests, fixture, parametrize, raises, tmp_path
import pytest


def slugify(text: str) -> str:
    if not text.strip():
        raise ValueError("empty text")
    return "-".join(text.lower().split())


@pytest.fixture
def sample_title() -> str:
    return "Hello World"


def test_slugify_fixture(sample_title: str) -> None:
    assert slugify(sample_title) == "hello-world"


@pytest.mark.parametrize(("text", "expected"), [("A B", "a-b"), ("  x  ", "x"), ("Py 3", "py-3")])
def test_slugify_cases(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_slugify_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        slugify("   ")


if __name__ == "__main__":
    raise SystemExit(pytest.main(["-q", "-p", "no:cacheprovider", __file__]))
