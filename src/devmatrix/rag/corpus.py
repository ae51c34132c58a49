"""The seed corpus: curated, tested Python examples shipped as data files.

Each file in ``examples/`` is a runnable module whose header says what it is:

    # id: fibonacci_memo
    # title: Fibonacci with memoization
    # topic: algorithms
    # tags: recursion, memoization, functools.lru_cache

and whose own asserts (run by the unit tier) prove the code is correct.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from devmatrix.errors import RAGError

TOPICS = ("algorithms", "data_structures", "fastapi", "sql", "auth", "async", "testing", "file_io",
          "error_handling")
REQUIRED = ("id", "title", "topic", "tags")
_HEADER = re.compile(r"^#\s*(\w+):\s*(.*?)\s*$")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,60}$")
# The known query validate asks, and the example it must find first.
KNOWN_QUERY = "memoized fibonacci"
KNOWN_ID = "fibonacci_memo"


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    topic: str
    tags: tuple[str, ...]
    code: str
    path: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()[:16]

    @property
    def document(self) -> str:
        """What is embedded and stored: the title and tags say what the code is for."""
        return f"# {self.title}\n# tags: {', '.join(self.tags)}\n{self.code}"

    @property
    def metadata(self) -> dict[str, str]:
        return {"title": self.title, "topic": self.topic, "tags": ", ".join(self.tags),
                "digest": self.digest, "source": "devmatrix-corpus"}


def examples_dir() -> Path:
    return Path(str(resources.files("devmatrix.rag") / "examples"))


def parse_example(path: Path) -> Example:
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if not match:
            break
        header[match.group(1)] = match.group(2)
    missing = [key for key in REQUIRED if not header.get(key)]
    problems = [f"missing header line '# {key}: …'" for key in missing]
    if "id" not in missing and not _ID.match(header["id"]):
        problems.append(f"id {header['id']!r} is not lower_snake_case (3-61 characters)")
    if "topic" not in missing and header["topic"] not in TOPICS:
        problems.append(f"topic {header['topic']!r} is not one of {', '.join(TOPICS)}")
    if problems:
        raise RAGError(f"corpus file {path}: {'; '.join(problems)}",
                       fix="start the file with the header lines # id/# title/# topic/# tags")
    code = "\n".join(line for line in text.splitlines() if not _HEADER.match(line)).strip() + "\n"
    return Example(header["id"], header["title"], header["topic"],
                   tuple(t.strip() for t in header["tags"].split(",") if t.strip()), code, str(path))


def load_corpus(directory: Path | None = None) -> list[Example]:
    """Every example, sorted by id; duplicate ids are an error naming both files."""
    directory = directory or examples_dir()
    examples = [parse_example(p) for p in sorted(directory.glob("*.py"))]
    seen: dict[str, str] = {}
    for example in examples:
        if example.id in seen:
            raise RAGError(f"corpus id {example.id!r} is used by {seen[example.id]} and {example.path}",
                           fix="give each example its own id")
        seen[example.id] = example.path
    if not examples:
        raise RAGError(f"no corpus examples in {directory}", fix="reinstall devmatrix-local")
    return sorted(examples, key=lambda e: e.id)
