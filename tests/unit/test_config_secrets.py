"""Secrets at rest in the settings file: private, random when created, refused when public in production."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devmatrix.config import OLD_DEFAULT_API_TOKEN, Settings, load_settings
from devmatrix.errors import ConfigError
from devmatrix.setup import rotate
from devmatrix.setup.env import ensure_env_file

pytestmark = pytest.mark.unit

EXAMPLE = Path(".env.test.example")


def test_a_new_settings_file_is_private_and_has_random_secrets(tmp_path):
    first, second = tmp_path / "one.env", tmp_path / "two.env"
    ensure_env_file(first, example=EXAMPLE)
    ensure_env_file(second, example=EXAMPLE)
    assert first.stat().st_mode & 0o777 == 0o600
    one, two = load_settings(first), load_settings(second)
    for name in ("api_token", "redis_password", "postgres_password"):
        value = getattr(one, name).get_secret_value()
        assert len(value) >= 40 and value != getattr(two, name).get_secret_value()
    assert one.api_token.get_secret_value() != OLD_DEFAULT_API_TOKEN
    assert not rotate.uses_public_default(one)  # no fixed secret left (issue 22)


@pytest.mark.parametrize(("text", "expected"), [
    ("A=1\nPOSTGRES_PASSWORD=devmatrix\nB=2\n", "A=1\nPOSTGRES_PASSWORD=new\nB=2\n"),  # pragma: allowlist secret
    ("A=1", "A=1\nPOSTGRES_PASSWORD=new\n"),  # an older file leaves it to the default: added
    ("", "POSTGRES_PASSWORD=new\n"),
])
def test_rotation_rewrites_only_the_password_line(text, expected):
    assert rotate.with_password(text, "new") == expected


def test_loading_a_readable_file_makes_it_0600_with_a_warning(tmp_path, caplog):
    path = tmp_path / ".env.test"
    path.write_text("REDIS_PORT=6380\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="devmatrix.config"):
        load_settings(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "was readable by other users (mode 644); made it 0600" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="devmatrix.config"):
        load_settings(path)
    assert "made it 0600" not in caplog.text  # nothing changed: nothing said


def test_the_old_default_token_keeps_working_with_a_clear_message(tmp_path, caplog):
    path = tmp_path / ".env.test"
    path.write_text(f"API_TOKEN={OLD_DEFAULT_API_TOKEN}\n")
    with caplog.at_level(logging.WARNING, logger="devmatrix.config"):
        settings = load_settings(path)
    assert settings.api_token.get_secret_value() == OLD_DEFAULT_API_TOKEN
    assert "API_TOKEN is still the old public default" in caplog.text and "token_urlsafe" in caplog.text
    assert "devmatrix-local-token" not in caplog.text


def test_production_refuses_public_defaults_and_wide_binds_naming_no_secret(tmp_path):
    path = tmp_path / ".env.test"
    path.write_text("ENVIRONMENT=production\nDEVMATRIX_PROVIDER=native\nAPI_HOST=0.0.0.0\nREDIS_HOST=10.1.2.3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    (problem,) = caught.value.problems
    for expected in ("API_TOKEN is the public default", "POSTGRES_PASSWORD is the public default",
                     "LLM_LOCAL_API_KEY is the public default", "REDIS_PASSWORD is empty",
                     "API_HOST=0.0.0.0 is not a loopback address", "REDIS_HOST=10.1.2.3 is not a loopback"):
        assert expected in problem
    assert "devmatrix-local-token" not in problem and "devmatrix-local-key" not in problem


def test_production_with_own_secrets_and_an_allowed_bind_loads():
    secrets = {"api_token": "a" * 40, "postgres_password": "b" * 40, "llm_local_api_key": "c" * 40,
               "redis_password": "d" * 40}
    with pytest.raises(ValueError, match=r"API_HOST=0\.0\.0\.0 is not a loopback"):
        Settings(environment="production", api_host="0.0.0.0", **secrets)  # noqa: S104 - the refused bind
    settings = Settings(environment="production", api_host="0.0.0.0", allow_non_loopback_bind=True,  # noqa: S104
                        **secrets)
    assert settings.api_host == "0.0.0.0"  # noqa: S104
