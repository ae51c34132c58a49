"""Where bubblewrap cannot run, the sandbox says so and runs nothing: never a fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.errors import EvidenceError, SandboxUnavailable
from devmatrix.evidence import Sandbox

pytestmark = pytest.mark.unit

# Would leave a file behind if it ever ran on the host.
CODE = "open({marker!r}, 'w').write('ran unsandboxed')"


def test_missing_bwrap_is_a_clear_error_and_the_code_never_runs(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap anywhere
    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable) as failed:
        Sandbox(memory_mb=256, cpu_s=5).run_python(["-c", CODE.format(marker=str(marker))], {})
    assert "bwrap (bubblewrap) is not installed" in failed.value.message
    assert "apt-get install bubblewrap" in failed.value.fix
    assert failed.value.exit_code == 2 and isinstance(failed.value, EvidenceError)
    assert not marker.exists()


def test_bwrap_that_cannot_make_namespaces_is_a_clear_error(monkeypatch, tmp_path: Path):
    """The injected failure: a bwrap that fails as it does in a container without user namespaces."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable) as failed:
        Sandbox(memory_mb=256, cpu_s=5).run_python(["-c", CODE.format(marker=str(marker))], {})
    assert "No permissions to create new namespace" in failed.value.message
    assert "bwrap --ro-bind / / true" in failed.value.fix  # what to check, not "install it"
    assert not marker.exists()
