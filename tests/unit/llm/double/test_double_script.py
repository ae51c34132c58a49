"""The double's scripted answers: the plan's cases find theirs, and each answer is good code."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from devmatrix.agents.codegen import GENERATE_MAX_TOKENS
from devmatrix.agents.orchestrator import SYSTEM as PLANNER_SYSTEM
from devmatrix.agents.orchestrator import extract_json
from devmatrix.agents.plan import parse_plan
from devmatrix.agents.review import PREFILL
from devmatrix.agents.review import PROMPT as REVIEW_PROMPT
from devmatrix.llm.double.script import ANSWERS, CASES, Unscripted, find_case, reply
from devmatrix.llm.double.server import CHARS_PER_TOKEN

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("request_text", "case"), [
    ("Create a fibonacci function with memoization", "fibonacci"),
    ("Create a Calculator class with add, subtract, multiply, divide methods", "calculator"),
    ("Create a simple add function (iteration 2)", "add"),
    ("Make a thing", "thing"),
    ("Create a user authentication function with secure password hashing", "auth"),
    ("### Example 1: x (similarity 0.65)\n```python\nimport bcrypt\n```\n\nRequest: Create a user"
     " authentication function with secure password hashing", "auth_bcrypt"),
    ("Write the Python implementation for this task.\nTask: Create two independent utility functions:"
     " JSON validation", "validate_json"),
    ("Write the Python implementation for this task.\nTask: Create two independent utility functions:"
     " date formatting", "format_date"),
    ("Write the Python implementation for this task.\nTask: Create a User model", "user"),
    ("Write pytest tests for the code below. Import it from its module. Save it in tests/test_t2.py.\n"
     "Task: create tests for it\n\nCode from the tasks this one depends on:\n# from task t1 (implementation):"
     " user.py\nclass User: ...", "user_tests"),
    ("Write FastAPI endpoints that expose the code below. Save it in api_t3.py.\nTask: create API endpoints\n\n"
     "Code from the tasks this one depends on:\n# from task t2 (test): tests/test_t2.py\nfrom user import User",
     "user_api"),
    ("Write the Python implementation for this task.\nTask: The data model and an in-memory repository for"
     " todo list (create, read, update, delete), as plain Python", "todo"),
    ("Write pytest tests for the code below. Import it from its module. Save it in tests/test_tests.py.\n"
     "Task: pytest tests for the todo list model and repository", "todo_tests"),
    ("Write FastAPI endpoints that expose the code below. Save it in api_endpoints.py.\n"
     "Task: FastAPI CRUD endpoints for todo list using the repository", "todo_api"),
])
def test_each_of_the_plans_requests_gets_its_case(request_text, case):
    assert find_case(request_text).name == case
    assert reply("", [{"role": "user", "content": request_text}]) == f"```python\n{find_case(request_text).code}```"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_answer_is_a_module_that_fits_the_agents_max_tokens(case):
    ast.parse(case.code)
    assert (len(case.code) + len("```python\n```")) / CHARS_PER_TOKEN <= GENERATE_MAX_TOKENS
    assert 0 <= case.score <= 10


def test_a_review_scores_the_answer_under_review_as_its_case_says():
    code = find_case("Make a thing").code
    messages = [{"role": "user", "content": REVIEW_PROMPT.format(request="Make a thing", code=code)},
                {"role": "assistant", "content": PREFILL}]
    assert reply("", messages) == " 6"
    fib = find_case("fibonacci").code
    asked_json = [{"role": "user", "content": f"Review this code. Reply with JSON only.\n```python\n{fib}```"}]
    assert extract_json(reply("", asked_json))["score"] == 9
    with pytest.raises(Unscripted, match="did not write"):
        reply("", [{"role": "user", "content": REVIEW_PROMPT.format(request="x", code="print(1)\n")}])


def test_a_planner_request_gets_a_valid_plan_and_the_backend_check_gets_4():
    plan = parse_plan(extract_json(reply(PLANNER_SYSTEM, [{"role": "user", "content": "Build a CSV report tool"}])))
    assert [(t.id, t.type, t.description) for t in plan.tasks] == [("main", "implementation",
                                                                   "Build a CSV report tool")]
    assert reply("", [{"role": "user", "content": "What is 2 + 2? Answer with the number only."}]) == "4"


def test_the_answers_work(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ANSWERS))
    from calculator import Calculator
    from fibonacci import fibonacci
    from format_date import format_date
    from validate_json import validate_json

    assert [fibonacci(n) for n in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13] and fibonacci(90) == 2880067194370816120
    with pytest.raises(ZeroDivisionError):
        Calculator().divide(1, 0)
    assert validate_json('{"a": 1}') == (True, {"a": 1}, None) and validate_json("{")[0] is False
    assert format_date("2026-12-02T10:00:00", "%d.%m.%Y") == "02.12.2026"


def test_the_password_answers_accept_the_right_password_only(monkeypatch):
    monkeypatch.syspath_prepend(str(ANSWERS))
    import auth_bcrypt
    import auth_pbkdf2

    for module in (auth_bcrypt, auth_pbkdf2):
        stored = {"ada": module.hash_password("s3cret")}
        assert module.authenticate_user("ada", "s3cret", stored.get) is True
        assert module.authenticate_user("ada", "wrong", stored.get) is False
        assert module.authenticate_user("bob", "s3cret", stored.get) is False


def test_the_generated_tests_pass_against_the_generated_code(tmp_path):
    """What tests/real_api's todo workflow runs: the test answers pass against the implementations."""
    for name in ("todo.py", "user.py"):
        shutil.copy(ANSWERS / name, tmp_path / name)
    (tmp_path / "tests").mkdir()
    shutil.copy(ANSWERS / "todo_tests.py", tmp_path / "tests" / "test_todo.py")
    shutil.copy(ANSWERS / "user_tests.py", tmp_path / "tests" / "test_user.py")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout[-2000:]
    assert " passed" in run.stdout


def test_the_todo_api_serves_crud(monkeypatch):
    monkeypatch.syspath_prepend(str(ANSWERS))
    import todo_api

    with TestClient(todo_api.app) as client:
        created = client.post("/todos", json={"title": "write the double"})
        assert created.status_code == 201 and created.json()["done"] is False
        todo_id = created.json()["id"]
        assert client.patch(f"/todos/{todo_id}", json={"done": True}).json()["done"] is True
        assert client.post("/todos", json={"title": " "}).status_code == 422
        assert client.delete(f"/todos/{todo_id}").status_code == 204
        assert client.get(f"/todos/{todo_id}").status_code == 404


def test_the_user_api_creates_and_reads_users(monkeypatch):
    monkeypatch.syspath_prepend(str(ANSWERS))
    import user_api

    with TestClient(user_api.app) as client:
        assert client.post("/users", json={"id": 1, "username": "ada", "email": "ada@example.com"}).status_code == 201
        assert client.get("/users/1").json()["username"] == "ada"
        assert client.post("/users", json={"id": 1, "username": "bob", "email": "bob@example.com"}).status_code == 409
        assert client.post("/users", json={"id": 2, "username": "bob", "email": "nope"}).status_code == 422
        assert client.get("/users/2").status_code == 404
