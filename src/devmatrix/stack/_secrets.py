"""Secrets of the native services kept off every command line and out of supervisord.conf.

Redis reads its password from a config file; each exporter starts through
``/bin/sh``, which loads its environment from a file and then execs the
exporter, so ``ps`` and the supervisor config show only the file's path. Every
such file is written 0600 from birth in ``<state dir>/secrets/`` (0700).
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

SECRETS_DIR = "secrets"  # pragma: allowlist secret - a folder name
SCRATCH_STACKS_PREFIX = "test-"  # .devmatrix/test-*: the integration tests' scratch stacks, not this stack's
# `sh -c SCRIPT ENV_FILE PROGRAM ARGS…`: $0 is the env file, "$@" the program and its arguments.
_EXEC_WITH_ENV = 'set -a; . "$0"; set +a; exec "$@"'


def secrets_dir(state: Path) -> Path:
    return state / SECRETS_DIR


def write_private(path: Path, text: str, *, private_parent: bool = True) -> None:
    """Write ``text`` to ``path`` with mode 0600 (never readable by others, not even briefly), by
    an atomic rename. ``private_parent``: make the folder 0700 too (a secrets folder of ours);
    False for a file in a folder that is not ours to close, such as the checkout's .env.test
    (a 0700 checkout locks the Postgres system user out of its data)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if private_parent:
        path.parent.chmod(0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


def redis_config(password: str) -> str:
    """A redis.conf holding only ``requirepass`` (quoted as Redis's config parser reads it)."""
    if not password:
        return "# no REDIS_PASSWORD: no requirepass\n"
    quoted = password.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'requirepass "{quoted}"\n'


def shell_env(env: dict[str, str]) -> str:
    """``NAME='value'`` lines that ``sh`` reads back exactly, whatever the value holds."""
    return "".join(f"{name}='{value.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n"
                   for name, value in env.items())


def exec_with_env_file(env_file: Path, command: list[str]) -> list[str]:
    """The command run through ``sh`` after loading ``env_file`` (no value on the command line)."""
    return ["/bin/sh", "-c", _EXEC_WITH_ENV, str(env_file), *command]


def make_state_private(state: Path, *, traverse_group: str | None) -> None:
    """The state dir and what it holds readable by this user only.

    ``traverse_group``: when Postgres runs as an unprivileged system user (we are
    root), that user must pass through the state dir and ``data/`` to reach its
    data directory: those two are 0710 with that group (it can enter, not list);
    everything else is 0700/0600. Data directories of servers are walked once to
    take older files private; Postgres keeps its own modes (0700/0600).
    """
    data = state / "data"
    data.mkdir(parents=True, exist_ok=True)
    for directory in (state, data):
        if traverse_group:
            os.chown(directory, -1, grp.getgrnam(traverse_group).gr_gid)
            directory.chmod(0o710)
        else:
            directory.chmod(0o700)
    for child in state.iterdir():
        if child.name == "data" or child.name.startswith(SCRATCH_STACKS_PREFIX) or child.is_symlink():
            # data: below. test-*: the tests' scratch stacks (test-backup, test-heal), each with its
            # own Postgres user traversal, maybe running now beside the tests on this stack.
            continue
        _strip_group_and_other(child)
    for server_dir in data.iterdir():
        if server_dir.name != "postgres" and not server_dir.is_symlink():
            _strip_group_and_other(server_dir)


def _strip_group_and_other(path: Path) -> None:
    for item in (path, *(path.rglob("*") if path.is_dir() else ())):
        if item.is_symlink():
            continue
        mode = item.stat().st_mode & 0o7777
        if mode & 0o077:
            item.chmod(mode & ~0o077)
