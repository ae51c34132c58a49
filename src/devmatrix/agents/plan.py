"""A task plan: typed tasks with dependencies, validated as a whole.

Every rule a runnable plan needs is checked here, once, whatever produced the
plan: unique ids, known types, dependencies that exist, and no cycle.
"""

from __future__ import annotations

import graphlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devmatrix.errors import PlanError

TaskType = Literal["implementation", "test", "api", "docs"]
TASK_TYPES: tuple[str, ...] = TaskType.__args__  # type: ignore[attr-defined]
MAX_TASKS = 12


class PlannedTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    type: TaskType
    description: str = Field(min_length=3, max_length=2000)
    depends_on: list[str] = Field(default_factory=list)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: list[PlannedTask] = Field(min_length=1, max_length=MAX_TASKS)

    @model_validator(mode="after")
    def _runnable(self) -> Plan:
        ids = [t.id for t in self.tasks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate task id(s): {', '.join(duplicates)}")
        for task in self.tasks:
            missing = [d for d in task.depends_on if d not in ids]
            if missing:
                raise ValueError(f"task {task.id!r} depends on missing task(s): {', '.join(missing)}")
            if task.id in task.depends_on:
                raise ValueError(f"task {task.id!r} depends on itself")
        try:
            tuple(self.sorter().static_order())
        except graphlib.CycleError as error:
            raise ValueError(f"the dependencies form a cycle: {' -> '.join(error.args[1])}") from None
        return self

    def sorter(self) -> graphlib.TopologicalSorter:
        return graphlib.TopologicalSorter({t.id: set(t.depends_on) for t in self.tasks})

    def task(self, task_id: str) -> PlannedTask:
        return next(t for t in self.tasks if t.id == task_id)

    def dependents(self, task_id: str) -> set[str]:
        """Every task that depends on ``task_id``, directly or not."""
        found: set[str] = set()
        frontier = {task_id}
        while frontier:
            frontier = {t.id for t in self.tasks if set(t.depends_on) & frontier} - found
            found |= frontier
        return found


def parse_plan(data: object) -> Plan:
    """Validate a plan, turning every problem into one PlanError naming them all."""
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise PlanError(f"invalid task plan: {problems}",
                        fix=f"task types are {', '.join(TASK_TYPES)}; dependencies must name"
                            " earlier tasks and must not form a cycle") from None


# --- explicit steps -----------------------------------------------------------
# A request that spells out its steps ("X, then Y, then Z") or its independent
# parts ("one for X and one for Y") is planned from its own words: the user has
# already decided the tasks, so no model call is spent guessing them.
_THEN = re.compile(r",?\s*\b(?:and\s+)?then\b\s*", re.I)
_PARTS = re.compile(r":\s*one\s+(?:for|to)\s+(.+?)\s+and\s+one\s+(?:for|to)\s+(.+)$", re.I)
_TYPE_WORDS = (("test", ("test", "tests", "pytest", "unit test")),
               ("api", ("api", "endpoint", "endpoints", "route", "routes", "rest")),
               ("docs", ("doc", "docs", "documentation", "readme")))


def _task_type(text: str) -> str:
    words = set(re.findall(r"[a-z]+", text.lower()))
    for task_type, keys in _TYPE_WORDS:
        if words & set(keys):
            return task_type
    return "implementation"


def _slug(text: str, index: int) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:4]
    return f"t{index}_" + "_".join(words)[:30]


def explicit_plan(request: str) -> Plan | None:
    """The plan a request states itself, or None when it states none."""
    parts = _PARTS.search(request)
    if parts:
        head = request[: parts.start()]
        return parse_plan({"tasks": [
            {"id": _slug(p, i), "type": "implementation",
             "description": f"{head.strip()}: {p.strip().rstrip('.')}"}
            for i, p in enumerate(parts.groups(), 1)]})
    steps = [s.strip().rstrip(".") for s in _THEN.split(request) if s.strip()]
    if len(steps) < 2:
        return None
    tasks: list[dict] = []
    for index, step in enumerate(steps, 1):
        # the first step names the thing; later ones ("tests for it") refer back to it
        kind = "implementation" if index == 1 else _task_type(step)
        tasks.append({"id": _slug(step, index), "type": kind, "description": step,
                      "depends_on": [tasks[-1]["id"]] if tasks else []})
    return parse_plan({"tasks": tasks})  # a too-long or too-many-step request is a PlanError


# --- known request shapes ---------------------------------------------------------
# "a REST API for X" has one standard decomposition — the model, tests for it,
# then the endpoints over it — so it is planned by rule, the same way on every
# backend, and the result says so (source "pattern"). Anything else goes to the model.
_REST_API_FOR = re.compile(r"\b(?:rest(?:ful)?\s+)?api\s+(?:for|to manage)\s+(?:an?\s+|the\s+)?(.+?)\s*\.?$", re.I)


def pattern_plan(request: str) -> Plan | None:
    """The standard plan of a known request shape, or None."""
    match = _REST_API_FOR.search(request.strip())
    if match is None:
        return None
    thing = match.group(1)
    return Plan(tasks=[
        PlannedTask(id="model", type="implementation",
                    description=f"The data model and an in-memory repository for {thing}"
                                " (create, read, update, delete), as plain Python"),
        PlannedTask(id="tests", type="test", depends_on=["model"],
                    description=f"pytest tests for the {thing} model and repository"),
        PlannedTask(id="endpoints", type="api", depends_on=["tests"],  # the seed runs them in order
                    description=f"FastAPI CRUD endpoints for {thing} using the repository"),
    ])
