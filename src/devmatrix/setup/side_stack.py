"""A second native stack beside the one a settings file describes (the chaos tier's).

`python -m devmatrix.setup.side_stack ROOT` (noxfile.py runs it before the chaos tier) makes
sure the base settings file exists, as phase1 would; takes down a stack an interrupted run
left at ROOT, since its ports are about to change; and writes ROOT/settings.env. That file is
every setting of the base file except: the state dir, workspaces and backups under ROOT, the
native provider, and every port setting on a port free now. It holds the base file's
secrets, so it is 0600 in a 0700 folder. RAG_CACHE_DIR stays shared: the embedding cache is
content-addressed SQLite, so the side stack's phase1 seeds from warm vectors.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from devmatrix.boundary import run_main
from devmatrix.config import ENV_FILE_VARIABLE, Settings, env_file_path, load_settings
from devmatrix.errors import DevMatrixError
from devmatrix.results import Status
from devmatrix.setup.env import EXAMPLE_FILE, ensure_env_file
from devmatrix.stack._secrets import write_private
from devmatrix.stack.providers import get_provider
from devmatrix.stack.system import free_ports

SETTINGS_FILE = "settings.env"
PORT_SETTINGS = tuple(name.upper() for name in Settings.model_fields if name.endswith("_port"))


def settings_text(base: str, root: Path, ports: list[int]) -> str:
    """``base`` (a settings file's text) with the side stack's places, provider and ``ports``."""
    values = {name: str(port) for name, port in zip(PORT_SETTINGS, ports, strict=True)}
    values |= {"DEVMATRIX_STATE_DIR": str(root), "WORKSPACE_DIR": str(root / "workspaces"),
               "BACKUP_DIR": str(root / "backups"), "DEVMATRIX_PROVIDER": "native"}
    text = base
    for name, value in values.items():
        line = f"{name}={value}"
        text, found = re.subn(rf"^{name}=.*$", lambda _, line=line: line, text, count=1, flags=re.MULTILINE)
        if not found:  # an older file leaves it to its default: the base stack's port
            text += ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    return text


def prepare(base: Path, root: Path, echo: Callable[[str], None] = print) -> Path:
    """Write ROOT/settings.env for a side stack (see the module docstring); its path."""
    made = ensure_env_file(base)
    if made.status is Status.FAIL:
        raise DevMatrixError(f"no settings to derive the side stack from: {made.detail}",
                             fix=f"restore {EXAMPLE_FILE} (from git), or name a settings file in ${ENV_FILE_VARIABLE}")
    echo(made.detail)
    target = root / SETTINGS_FILE
    if target.exists():
        echo(f"taking down the side stack {target} describes (its ports change now)")
        get_provider(load_settings(target), env_file=target, echo=echo).down()
    write_private(target, settings_text(base.read_text(encoding="utf-8"), root, free_ports(len(PORT_SETTINGS))))
    echo(f"wrote {target}: {base}'s settings, state under {root}, free ports")
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devmatrix.setup.side_stack ROOT (a folder under .devmatrix/ named test-*)",
              file=sys.stderr)
        return 2
    def command() -> int:
        prepare(env_file_path(), Path(argv[0]))
        return 0

    return run_main(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
