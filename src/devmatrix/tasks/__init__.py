"""Invoke tasks: thin wrappers over the concept packages (stack, setup, backup, checks, chaos), one namespace per phase.

Top-level `tasks.py` only imports `namespace` from here.
"""

from __future__ import annotations

from invoke import Collection

from devmatrix.tasks import backup, chaos, cleanup, db, env, git, infra, monitoring, phase1, rag, restore, validate


def _build() -> Collection:
    ns = Collection()
    for module in (infra, env, db, rag, git, monitoring, backup):
        ns.add_collection(Collection.from_module(module))
    for task in (phase1.phase1, validate.validate, restore.restore, cleanup.cleanup, chaos.chaos):
        ns.add_task(task)
    return ns


namespace = _build()
