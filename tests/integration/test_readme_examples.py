"""README's examples run as written: every line of a block marked `<!-- examples -->` that
states `# exit N` runs on the default stack and must exit N. A line without one must hold a
placeholder (`…`): it is checked against the CLI's flags by tests/unit/test_docs_commands.py.

The workspace folder is the test's own: `WORKSPACE_DIR` points into tmp_path, and the
README's `workspace_test/` (the default WORKSPACE_DIR) is read as that folder.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.real_services, pytest.mark.timeout(300)]

README = Path("README.md")
MARKER = "<!-- examples -->"
_BLOCK = re.compile(rf"^{re.escape(MARKER)}\n```bash\n(.*?)^```", re.M | re.S)
_EXIT = re.compile(r"#\s*exit (\d+)\b")
DEFAULT_WORKSPACE_DIR = "workspace_test/"


def example_lines(text: str) -> list[tuple[str, int | None]]:
    """(command, the exit code its comment states, or None) for each line of the marked blocks."""
    lines = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            if not line.strip():
                continue
            command, _, comment = line.partition("  #")
            stated = _EXIT.search("#" + comment)
            lines.append((command.strip(), int(stated.group(1)) if stated else None))
    return lines


EXAMPLES = example_lines(README.read_text(encoding="utf-8"))
RUN = [(command, code) for command, code in EXAMPLES if code is not None]


def test_every_example_states_its_outcome_or_is_a_placeholder():
    assert len(RUN) >= 4, f"README's {MARKER} block lost its examples: {EXAMPLES}"
    vague = [command for command, code in EXAMPLES if code is None and "…" not in command]
    assert vague == [], "a concrete README example must state its exit code (`# exit N`)"


def test_the_examples_run_in_order_and_exit_as_readme_says(tmp_path):
    # in order and in one workspace: `devmatrix check` reads what the lines above wrote
    workspaces = tmp_path / "workspaces"
    env = {**os.environ, "WORKSPACE_DIR": str(workspaces),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command, stated in RUN:
        words = [w.replace(DEFAULT_WORKSPACE_DIR, f"{workspaces}/", 1) if w.startswith(DEFAULT_WORKSPACE_DIR) else w
                 for w in shlex.split(command)]
        done = subprocess.run(words, env=env, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == stated, (
            f"README says `{command}` exits {stated}; it exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout[-2000:]}\n--- stderr ---\n{done.stderr[-2000:]}")
    assert sorted(p.name for p in (workspaces / "demo").glob("*.py")) == ["add.py", "double.py", "is_even.py"]
