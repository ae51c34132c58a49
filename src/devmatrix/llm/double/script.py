"""What the Messages-API double says: scripted good answers for the plan's cases.

A request is answered by the first case whose patterns all match its user text
(case-insensitive; the more specific cases come first). The answers are real
modules in ``answers/``, each checked by the unit tier (they import, their tests
pass); a review of one of them gets that case's score. Planner requests get a
one-task JSON plan, the backend check ("What is 2 + 2?") gets 4. Anything else is
Unscripted: the double says so (HTTP 400) instead of inventing an answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ANSWERS = Path(__file__).parent / "answers"
# The review prompt of devmatrix.agents.review and the planner's system prompt, as the
# double recognises them.
_REVIEW = re.compile(r"\brate the quality\b|\breview (?:this|the following)\b", re.I)
_PLANNER = re.compile(r"\bproject planner\b|\"tasks\"\s*:", re.I)
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.S)
_JSON_REPLY = re.compile(r"\b(?:reply|answer|respond)\b[^.\n]*\bJSON\b", re.I)  # a review asked as JSON
_CHECK = re.compile(r"what is 2 \+ 2\?", re.I)


class Unscripted(Exception):
    """The double has no answer for this request."""


@dataclass(frozen=True)
class Case:
    name: str
    patterns: tuple[str, ...]  # all must match the request's user text
    answer: str  # a file in answers/
    score: float  # what a review of that answer scores, 0-10

    def matches(self, text: str) -> bool:
        return all(re.search(p, text, re.I | re.M) for p in self.patterns)

    @property
    def code(self) -> str:
        return _answer(self.answer)


# The plan's cases (tests/real_api): §2.2's generations and §4.2's workflows, whose task
# prompts (devmatrix.workflows.multi_agent) name the task's kind and its dependencies' code.
CASES: tuple[Case, ...] = (
    Case("todo_tests", (r"\bpytest tests\b", r"\btodo"), "todo_tests.py", 9),
    Case("todo_api", (r"\bFastAPI\b", r"\btodo"), "todo_api.py", 9),
    Case("todo", (r"\btodo",), "todo.py", 9),
    Case("user_tests", (r"\bpytest tests\b", r"\buser\b"), "user_tests.py", 9),
    Case("user_api", (r"\bFastAPI\b", r"\buser\b"), "user_api.py", 9),
    Case("user", (r"\bUser model\b",), "user.py", 9),
    # with the retrieved bcrypt example in the prompt the answer follows it; without, it does not
    Case("auth_bcrypt", (r"authenticat", r"password", r"\bbcrypt\b"), "auth_bcrypt.py", 9),
    Case("auth", (r"authenticat", r"password"), "auth_pbkdf2.py", 8),
    Case("fibonacci", (r"\bfibonacci\b",), "fibonacci.py", 9),
    Case("calculator", (r"\bcalculator\b",), "calculator.py", 9),
    Case("add", (r"\badd function\b",), "add.py", 9),
    Case("validate_json", (r"\bJSON validation\b",), "validate_json.py", 9),
    Case("format_date", (r"\bdate formatting\b",), "format_date.py", 9),
    # vague: some code, scored below the default gate (7), so a person reviews it
    Case("thing", (r"^\s*make a thing\s*\.?\s*$",), "thing.py", 6),
)


@cache
def _answer(name: str) -> str:
    return (ANSWERS / name).read_text(encoding="utf-8")


def text_of(content: object) -> str:
    """A message's text: a string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def reply(system: str, messages: list[dict]) -> str:
    """The assistant's text for a request (after any assistant prefill), or Unscripted."""
    user = "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "user")
    prefill = text_of(messages[-1].get("content")) if messages and messages[-1].get("role") == "assistant" else ""
    if _PLANNER.search(system):
        return _plan(messages)
    if _CHECK.search(user):
        return "4"
    if _REVIEW.search(user) and "```" in user:
        return _review(user, prefill)
    case = find_case(user)
    return f"```python\n{case.code}```"


def find_case(text: str) -> Case:
    for case in CASES:
        if case.matches(text):
            return case
    raise Unscripted(f"no scripted answer for the request {text[:160]!r}; the cases are in"
                     " devmatrix/llm/double/script.py")


def _review(user: str, prefill: str) -> str:
    """The score of the case whose answer is the code under review."""
    reviewed = next((c for c in CASES if c.code.strip() in user), None)
    if reviewed is None:
        raise Unscripted(f"asked to review code the double did not write: {user[:160]!r}")
    score = f"{reviewed.score:g}"
    if prefill.strip().startswith("{") or _JSON_REPLY.search(_FENCED.sub("", user)):
        answer = json.dumps({"score": reviewed.score, "summary": f"scripted review of {reviewed.name}"})
        return answer[len(prefill.strip()):] if prefill.strip() and answer.startswith(prefill.strip()) else answer
    return f" {score}" if prefill and not prefill.endswith(" ") else score


def _plan(messages: list[dict]) -> str:
    """One implementation task holding the whole request (the planner's JSON shape)."""
    request = text_of(messages[0].get("content")).strip()[:2000]
    return json.dumps({"tasks": [{"id": "main", "type": "implementation", "description": request,
                                  "depends_on": []}]})
