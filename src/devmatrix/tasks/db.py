"""`invoke db`: the DevMatrix database with pgvector and the versioned schema."""

from __future__ import annotations

import sys

from devmatrix.setup import db as ops_db
from devmatrix.setup import rotate
from devmatrix.tasks._common import console, echo, env_file, print_result, settings, task


def _confirm(name: str) -> bool:
    if not sys.stdin.isatty():
        return False  # never guess a yes: setup_database refuses and names --yes
    answer = input(f"Drop database {name!r} and ALL its data? Type the name to confirm: ")
    return answer.strip() == name


@task(default=True, help={
    "recreate": "drop the database first (asks for confirmation, or pass --yes)",
    "yes": "confirm --recreate without a prompt",
    "dry": "print the plan, change nothing",
})
def setup(c, recreate=False, yes=False, dry=False):
    """Create the database if missing, CREATE EXTENSION vector, apply migrations."""
    s = settings()
    confirmed = yes or (recreate and not dry and _confirm(s.postgres_db))
    for result in ops_db.setup_database(s, recreate=recreate, confirmed=confirmed or dry,
                                        dry=dry):
        print_result(result)
    console.print(f"  database {s.postgres_db} on {s.postgres_host}:{s.postgres_port}")


@task(name="rotate-password", help={"dry": "print what would change, change nothing"})
def rotate_password(c, dry=False):
    """Give the Postgres role a new random POSTGRES_PASSWORD: server, .env.test, then restart its users.

    For a stack made with the public default of .env.test.example. All or nothing: if the new
    password cannot be written or does not open the server, the old one stays everywhere.
    """
    for result in rotate.rotate_postgres_password(env_file(), dry=dry, echo=echo):
        print_result(result)
