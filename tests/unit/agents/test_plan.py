"""Task plans: every rule that makes a plan runnable, and plans stated by the request."""

from __future__ import annotations

import pytest

from devmatrix.agents.plan import explicit_plan, parse_plan, pattern_plan
from devmatrix.errors import PlanError

pytestmark = pytest.mark.unit


def task(id_: str, type_: str = "implementation", deps: list[str] | None = None) -> dict:
    return {"id": id_, "type": type_, "description": f"do {id_}", "depends_on": deps or []}


def test_a_cyclic_plan_is_rejected_naming_the_cycle():
    with pytest.raises(PlanError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        parse_plan({"tasks": [task("a", deps=["b"]), task("b", deps=["a"])]})


def test_an_unknown_task_type_is_rejected_listing_the_known_ones():
    with pytest.raises(PlanError) as caught:
        parse_plan({"tasks": [task("a", "deploy")]})
    assert "tasks.0.type" in str(caught.value)
    assert "implementation, test, api, docs" in str(caught.value)


def test_a_dependency_on_a_missing_task_is_named():
    with pytest.raises(PlanError, match="'a' depends on missing task\\(s\\): ghost"):
        parse_plan({"tasks": [task("a", deps=["ghost"])]})


def test_duplicate_ids_and_self_dependency_are_rejected():
    with pytest.raises(PlanError, match="duplicate task id"):
        parse_plan({"tasks": [task("a"), task("a")]})
    with pytest.raises(PlanError, match="depends on itself"):
        parse_plan({"tasks": [task("a", deps=["a"])]})


def test_an_empty_plan_is_rejected():
    with pytest.raises(PlanError):
        parse_plan({"tasks": []})


def test_dependents_are_transitive():
    plan = parse_plan({"tasks": [task("a"), task("b", deps=["a"]), task("c", deps=["b"]),
                                 task("d")]})
    assert plan.dependents("a") == {"b", "c"}
    assert plan.dependents("d") == set()


def test_sequential_request_becomes_a_chain_of_typed_tasks():
    plan = explicit_plan("Create a User model, then create tests for it, then create API endpoints")
    assert [t.type for t in plan.tasks] == ["implementation", "test", "api"]
    assert [t.depends_on for t in plan.tasks] == [[], [plan.tasks[0].id], [plan.tasks[1].id]]


def test_independent_parts_become_parallel_tasks():
    plan = explicit_plan("Create two independent utility functions: one for JSON validation"
                         " and one for date formatting")
    assert [t.depends_on for t in plan.tasks] == [[], []]
    assert "JSON validation" in plan.tasks[0].description
    assert "date formatting" in plan.tasks[1].description


def test_a_request_without_stated_steps_has_no_explicit_plan():
    assert explicit_plan("Create a REST API for a todo list") is None


@pytest.mark.parametrize("request_text", [
    "Create a REST API for a todo list", "Build a RESTful API for the bookstore.",
    "create an api to manage users"])
def test_a_rest_api_request_has_the_standard_model_tests_endpoints_plan(request_text):
    plan = pattern_plan(request_text)
    assert [(t.type, t.depends_on) for t in plan.tasks] == [
        ("implementation", []), ("test", ["model"]), ("api", ["tests"])]


def test_an_unknown_shape_has_no_pattern_plan():
    assert pattern_plan("Write something clever about prime numbers") is None


def test_a_stated_step_too_long_for_a_task_is_a_plan_error():
    with pytest.raises(PlanError, match="at most 2000 characters"):
        explicit_plan("Write a parser, then tests for it " + "covering every case " * 200)
