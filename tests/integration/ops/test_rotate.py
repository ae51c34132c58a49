"""`invoke db.rotate-password` on a Postgres of its own: a stack made with the public default
password gets a random one, all or nothing."""

from __future__ import annotations

import secrets
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from pydantic import SecretStr

from devmatrix import clients
from devmatrix.config import PUBLIC_DEFAULTS, load_settings
from devmatrix.errors import DevMatrixError
from devmatrix.setup import rotate
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def rotating_stack() -> Iterator[Path]:
    """A settings file with the old public POSTGRES_PASSWORD and a Postgres initialised with it."""
    # under .devmatrix/test-*: the Postgres system user can pass through .devmatrix/ (0710, its group)
    root = Path(".devmatrix") / f"test-rotate-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    env_file = root / ".env.test"
    env_file.touch(mode=0o600)
    env_file.write_text(f"API_TOKEN={secrets.token_urlsafe(32)}\nDEVMATRIX_STATE_DIR={root / 'state'}\n"
                        f"POSTGRES_PORT={free_port()}\nPOSTGRES_PASSWORD={PUBLIC_DEFAULTS['postgres_password']}\nDEVMATRIX_PROVIDER=native\n")
    provider = NativeProvider(load_settings(env_file), env_file=env_file, echo=lambda _: None)
    try:
        provider.up(("postgres",))
        yield env_file
    finally:
        provider.down()
        shutil.rmtree(root, ignore_errors=True)


def _opens(env_file: Path, password: str) -> bool:
    settings = load_settings(env_file).model_copy(update={"postgres_password": SecretStr(password)})
    try:
        psycopg2.connect(**clients.postgres_params(settings, database="postgres")).close()
    except psycopg2.OperationalError as error:
        assert "password authentication failed" in str(error), error
        return False
    return True


def test_rotation_gives_the_role_and_the_file_a_new_random_password(rotating_stack):
    old = PUBLIC_DEFAULTS["postgres_password"]
    assert rotate.uses_public_default(load_settings(rotating_stack))
    rotating_stack.parent.chmod(0o755)
    folder_mode = stat.S_IMODE(rotating_stack.parent.stat().st_mode)
    results = rotate.rotate_postgres_password(rotating_stack, echo=lambda _: None)
    settings = load_settings(rotating_stack)
    new = settings.postgres_password.get_secret_value()
    assert new != old and len(new) >= 32
    assert not rotate.uses_public_default(settings)
    assert _opens(rotating_stack, new) and not _opens(rotating_stack, old)
    assert stat.S_IMODE(rotating_stack.stat().st_mode) == 0o600
    # the folder is left as it was: closing the checkout (0700) locked Postgres out of its data
    assert stat.S_IMODE(rotating_stack.parent.stat().st_mode) == folder_mode
    assert all(new not in r.detail for r in results)  # never printed
    # the rest of the file is as it was
    assert f"POSTGRES_PORT={settings.postgres_port}" in rotating_stack.read_text()


def test_a_rotation_that_cannot_write_the_file_leaves_the_old_password_everywhere(rotating_stack, monkeypatch):
    old, before = PUBLIC_DEFAULTS["postgres_password"], rotating_stack.read_text()

    def disk_full(path: Path, text: str, **_: object) -> None:  # the failure injected: the file cannot be written
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(rotate, "write_private", disk_full)
    with pytest.raises(DevMatrixError, match="rotation undone") as failed:
        rotate.rotate_postgres_password(rotating_stack, echo=lambda _: None)
    assert "keep the old password" in failed.value.fix
    assert rotating_stack.read_text() == before
    assert _opens(rotating_stack, old)  # the role got its old password back
