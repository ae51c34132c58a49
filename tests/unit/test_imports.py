"""Imports only go down: the layers of `src/devmatrix`, read from the code's own imports (ast).

A module may import its own layer and the layers below it, never one above; no two
packages import each other, even through a third; and a function-local import of a
devmatrix module (the usual way to dodge a cycle) is rare and says why on its line.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[2] / "src"
# The one declaration of the layers, bottom first: the top-level modules and packages of each.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "deadlines", "retry", "boundary"),  # what every module may raise, wait for, retry; exit codes
    ("config",),                                              # Settings
    ("_process", "results", "clients", "monitoring", "bench_report"),  # the client boundary, metrics, results
    ("readiness", "state", "workspace", "evidence"),          # probes and stores
    ("llm", "rag"),                                           # the model and retrieval
    ("agents",),
    ("jobs",),                                                # generations on Celery workers
    ("workflows",),                                           # the DAG scheduler: tasks in-process or as jobs
    ("stack",),                                               # registry, providers: running the servers
    ("setup",),                                               # phase1's steps, the side stack
    ("backup",),                                              # data safety: backup, restore, cleanup
    ("checks", "chaos"),                                      # validate and monitoring checks; drills
    ("api",),
    ("cli", "tasks"),                                         # entry points
    ("testing",),                                             # the test tiers' runner (noxfile.py)
)
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}
MAX_LOCAL_IMPORTS = 5


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported devmatrix module, dotted
    line: int
    local: bool  # inside a function
    comment: str  # the comment on its line, or on the line above


def modules(src: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in sorted((src / "devmatrix").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(src: Path = SRC) -> list[Import]:
    """Every import of a devmatrix module; `from pkg import sub` names the submodule itself."""
    known = modules(src)
    found = []
    for name, path in known.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        local = {id(node) for function in ast.walk(tree)
                 if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
                 for node in ast.walk(function)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in node.names]
            else:
                continue
            around = " ".join(lines[max(node.lineno - 2, 0):node.end_lineno])
            comment = around.split("#", 1)[1].strip() if "#" in around else ""
            found += [Import(name, target, node.lineno, id(node) in local, comment)
                      for target in dict.fromkeys(targets) if target in known and target != name]
    return found


def top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int:
    return LAYER_OF[top(module)] if top(module) else -1  # the root package's face: below everything


def upward(found: list[Import]) -> list[str]:
    return [f"{i.source}:{i.line} imports {i.target} (layer {layer(i.target)} above {layer(i.source)})"
            for i in found if layer(i.target) > layer(i.source)]


def package_cycle(found: list[Import]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for i in found:
        if top(i.source) != top(i.target) and top(i.target):
            graph.setdefault(top(i.source), set()).add(top(i.target))
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def module_cycle(found: list[Import]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for i in found:
        graph.setdefault(i.source, set()).add(i.target)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_every_package_has_its_layer_declared():
    undeclared = sorted({top(m) for m in modules() if top(m) and top(m) not in LAYER_OF})
    assert not undeclared, f"add {undeclared} to LAYERS in {__file__}, in the layer it belongs to"


def test_no_import_runs_up_a_layer():
    assert upward(imports()) == []


def test_no_two_packages_import_each_other():
    assert package_cycle(imports()) == []


def test_no_module_cycle():
    assert module_cycle(imports()) == []


def test_function_local_imports_are_few_and_say_why():
    local = [i for i in imports() if i.local]
    assert len(local) <= MAX_LOCAL_IMPORTS, [f"{i.source}:{i.line} {i.target}" for i in local]
    assert [f"{i.source}:{i.line}" for i in local if not i.comment] == []


# --- the checks above can fail: each on a small package written for it -------------------
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "devmatrix" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_an_upward_import_is_found(tmp_path):
    src = _package(tmp_path, {"__init__.py": "", "config.py": "from devmatrix.api import app\n",
                              "api/__init__.py": "", "api/app.py": "from devmatrix import config\n"})
    assert upward(imports(src)) == ["devmatrix.config:1 imports devmatrix.api.app (layer 12 above 1)"]


def test_a_cycle_between_packages_is_found_through_submodules(tmp_path):
    src = _package(tmp_path, {"__init__.py": "", "checks/__init__.py": "", "chaos/__init__.py": "",
                              "checks/validate.py": "from devmatrix.chaos import drill\n",
                              "chaos/drill.py": "from .. import checks\nfrom devmatrix.checks import validate\n"})
    assert set(package_cycle(imports(src))) == {"checks", "chaos"}
    assert set(module_cycle(imports(src))) == {"devmatrix.checks.validate", "devmatrix.chaos.drill"}


def test_a_local_import_is_counted_with_its_reason(tmp_path):
    src = _package(tmp_path, {"__init__.py": "", "config.py": "",
                              "api.py": "def f():\n    from devmatrix import config  # late: why\n\n"
                                        "def g():\n    from devmatrix import config\n"})
    assert [(i.local, i.comment) for i in imports(src)] == [(True, "late: why"), (True, "")]


# What a process that starts often, or that a user waits for, must not load at its start: the
# anthropic SDK (1-4 s of imports), torch and the embedding model's stack, and the agent stack.
ML_STACK = ("anthropic", "torch", "sentence_transformers")
AGENT_STACK = (*ML_STACK, "devmatrix.agents.codegen", "devmatrix.llm.client", "devmatrix.jobs.run")
LIGHT_ENTRIES = {
    # every `invoke` command (its --help too) imports the tasks: the SDK and torch load only in the
    # tasks that call them
    "devmatrix.tasks": ML_STACK,
    # a worker answers its first ping (what `invoke infra.up` waits for) before any job: the agent
    # stack (5-10 s of imports when the machine is busy) loads with the first job of each pool
    # process (jobs/tasks.py)
    "devmatrix.jobs.worker": (*AGENT_STACK, "devmatrix.rag.retriever"),
    # the API runs no generation (its workers do); it imported the SDK through the agent module:
    # 2-3 s of a 5.8 s import, the slowest service of a first phase1 (ready at 8.6 s, 5.6 s without)
    "devmatrix.api.__main__": AGENT_STACK,
}


@pytest.mark.parametrize("entry", sorted(LIGHT_ENTRIES))
def test_an_entry_point_starts_without_the_heavy_stacks_it_never_uses(entry):
    code = f"import sys, {entry}; print(sorted(set({LIGHT_ENTRIES[entry]!r}) & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
