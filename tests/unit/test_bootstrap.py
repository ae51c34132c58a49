"""README's first command before it changes anything: the pre-flight checks of scripts/bootstrap.sh
and scripts/apt-install.sh, each from the absence of what it checks (docs/first-run.md)."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPTS = Path("scripts")


def test_bootstrap_stops_first_when_the_disk_is_too_full(tmp_path):
    """A full disk is the first thing it checks: nothing installed, a FAIL naming the space and the fix."""
    result = subprocess.run(["bash", str(SCRIPTS / "bootstrap.sh")], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "DEVMATRIX_MIN_FREE_MB": str(10**12)}, check=False)
    assert result.returncode == 1
    assert "MB free on the disk of" in result.stderr and "expected at least 1000000000000 MB" in result.stderr
    assert "fix: free some space" in result.stderr
    assert "==>" not in result.stdout  # it stopped before its first step


def test_a_missing_debian_package_without_root_is_the_exact_command():
    """Absent package, no root to install it: the exact apt-get line, never a silent skip.
    The list comes through a pipe of its own: nobody cannot read pytest's tmp_path (0700)."""
    packages = "# a package this machine does not have\ndevmatrix-no-such-package\n"
    as_nobody = {"user": "nobody"} if os.geteuid() == 0 else {}
    script = (SCRIPTS / "apt-install.sh").resolve()
    if os.geteuid() == 0 and not os.access(script, os.R_OK):
        pytest.fail(f"{script} must be readable by others to run as nobody")
    result = subprocess.run(["bash", "-c", 'bash "$0" <(printf %s "$1")', str(script), packages],
                            capture_output=True, text=True,
                            timeout=30, check=False, cwd="/", **as_nobody)
    assert result.returncode == 1, result.stderr
    assert "FAIL: missing Debian packages: devmatrix-no-such-package" in result.stderr
    assert "apt-get install -y --no-install-recommends devmatrix-no-such-package" in result.stderr
    assert pwd.getpwnam("nobody")  # the unprivileged account the check runs as when we are root
