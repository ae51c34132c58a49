"""Invoke tasks: thin wrappers over `devmatrix.ops`, one namespace per phase.

Top-level `tasks.py` only imports `namespace` from here.
"""

from __future__ import annotations

from invoke import Collection

from devmatrix.tasks import chaos, cleanup, db, env, git, infra, phases, restore


def _build() -> Collection:
    ns = Collection()
    for module in (infra, env, db, git):
        ns.add_collection(Collection.from_module(module))
    for optional in ("rag", "monitoring", "backup"):
        try:
            module = __import__(f"devmatrix.tasks.{optional}", fromlist=["_"])
        except ModuleNotFoundError as error:
            if error.name != f"devmatrix.tasks.{optional}":
                raise  # a real import error inside the module must not be hidden
            continue
        ns.add_collection(Collection.from_module(module))
    for task in (phases.phase1, phases.validate, restore.restore, cleanup.cleanup, chaos.chaos):
        ns.add_task(task)
    return ns


namespace = _build()
