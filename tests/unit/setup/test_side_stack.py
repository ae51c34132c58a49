"""The chaos tier's side stack: a settings file that shares nothing with the base stack but secrets."""

from __future__ import annotations

import stat

import pytest

from devmatrix.config import load_settings
from devmatrix.errors import DevMatrixError
from devmatrix.setup import side_stack

pytestmark = pytest.mark.unit

# an older settings file: a secret, two ports, and no line at all for the others
BASE = "API_TOKEN=secret-token\nPOSTGRES_PORT=5432\nREDIS_PORT=6379\nLOG_LEVEL=INFO"  # pragma: allowlist secret


def test_the_side_stack_gets_every_port_anew_its_own_places_and_the_base_secrets(tmp_path):
    base = tmp_path / ".env.test"
    base.write_text(BASE)
    root = tmp_path / ".devmatrix" / "test-side"
    written = side_stack.prepare(base, root, echo=lambda _: None)

    side, default = load_settings(written, require_file=True), load_settings(base, require_file=True)
    ports = {name: getattr(side, name.lower()) for name in side_stack.PORT_SETTINGS}
    assert len(ports) == 11 and len(set(ports.values())) == len(ports)  # all distinct
    assert not set(ports.values()) & {getattr(default, name.lower()) for name in side_stack.PORT_SETTINGS}
    assert side.devmatrix_state_dir == root and side.devmatrix_provider == "native"
    assert root in side.workspace_dir.parents and root in side.backup_dir.parents
    assert side.api_token.get_secret_value() == "secret-token" and side.rag_cache_dir == default.rag_cache_dir
    assert stat.S_IMODE(written.stat().st_mode) == 0o600 and stat.S_IMODE(root.stat().st_mode) == 0o700
    assert base.read_text() == BASE  # the base file is never touched


def test_with_neither_settings_file_nor_example_it_says_what_to_restore(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DevMatrixError) as failed:
        side_stack.prepare(tmp_path / ".env.test", tmp_path / "side", echo=lambda _: None)
    assert ".env.test.example" in str(failed.value) and "DEVMATRIX_ENV_FILE" in failed.value.fix
