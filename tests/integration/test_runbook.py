"""RUNBOOK.md cannot rot: every shell block marked `<!-- runnable -->` runs against the stack.

A block is runnable when the line right before its opening fence is exactly
`<!-- runnable -->`. Each runs with `bash -euo pipefail` from the project root,
the venv's bin first on PATH, and BACKUP_DIR in a temporary folder so backups
it makes are removed afterwards. Runnable blocks must be safe on a stack other
tests are using (read-only, --dry, or writing only scratch data).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

MARKER = "<!-- runnable -->"
RUNBOOK = Path("RUNBOOK.md")
_BLOCK = re.compile(rf"^{re.escape(MARKER)}\n```(?:bash|sh)\n(.*?)^```", re.M | re.S)


def runnable_blocks(text: str) -> list[tuple[str, str]]:
    """(nearest heading above, code) for every marked block."""
    blocks = []
    for match in _BLOCK.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[:match.start()], re.M)
        blocks.append((headings[-1] if headings else "top", match.group(1)))
    return blocks


BLOCKS = runnable_blocks(RUNBOOK.read_text(encoding="utf-8"))


def test_the_runbook_has_runnable_blocks_and_every_marker_is_used():
    assert len(BLOCKS) >= 3
    assert RUNBOOK.read_text(encoding="utf-8").count(MARKER) == len(BLOCKS), \
        f"a {MARKER} line is not directly followed by a ```bash block"


@pytest.mark.parametrize(("heading", "code"), BLOCKS, ids=[f"{i}-{h}" for i, (h, _) in enumerate(BLOCKS)])
def test_runnable_block_exits_0(heading, code, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "BACKUP_DIR": str(tmp_path / "backups")}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], env=env, capture_output=True, text=True,
                          timeout=110, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"RUNBOOK block under '{heading}' failed:\n{code}\n--- stderr ---\n{done.stderr}"
