"""Reading a model's reply: the code block, the file name, the review score."""

from __future__ import annotations

import ast
import re

# A fence left open at the end of the reply (the model ran out of tokens) still
# counts: the syntax check and its repair round judge what is inside.
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
_PATH_HINT = re.compile(r"(?:file|path|into|in|to|as)\s+[`'\"]?([\w./\\~-]+\.py)\b", re.I)
# "7", "7.5", "Score: 8", "score (0-10): 9", "8/10" — at the start of the reply.
_SCORE = re.compile(
    r"^[\s*_\"'`]*(?:[a-z ()0-9-]*?score[^:\n]*:\s*)?(10(?:\.0+)?|\d(?:\.\d+)?)(?!\d)(?:\s*/\s*10)?",
    re.I,
)


def extract_code(reply: str) -> str | None:
    """The first non-empty fenced code block of the reply (None when there is none).

    Small models sometimes open with an empty fence ("```\n\n```python\n…"); the
    closing fence of that empty block is the opening of the real one, so the search
    goes on from where the empty block's content ends.
    """
    position = 0
    while match := _FENCE.search(reply, position):
        code = match.group(1).strip("\n")
        if code.strip():
            return code + "\n"
        position = match.end(1)  # > match.start(): the fence itself is at least 3 characters
    return None


def requested_path(request: str) -> str | None:
    """A file path the request names explicitly ("save it in utils/dates.py")."""
    match = _PATH_HINT.search(request)
    return match.group(1) if match else None


def module_name(code: str, fallback: str) -> str:
    """A file name from the first top-level function or class: fibonacci.py, calculator.py."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return f"{fallback}.py"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", node.name).lower().strip("_")
            return f"{name or fallback}.py"
    return f"{fallback}.py"


def parse_score(reply: str, prefill: str = "") -> float:
    """The 0–10 score a reviewer gave; ValueError (with the reply) when there is none."""
    text = reply.strip()
    if prefill and text.startswith(prefill.strip()):
        text = text[len(prefill.strip()):]  # some servers echo the assistant prefill
    match = _SCORE.match(text)
    if not match:
        raise ValueError(f"no 0-10 score at the start of the reviewer's reply {reply[:80]!r}")
    score = float(match.group(1))
    if not 0 <= score <= 10:
        raise ValueError(f"score {score} is outside 0-10 in {reply[:80]!r}")
    return score
