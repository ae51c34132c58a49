"""Settings: a bad file is reported whole, each problem with its name, value and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.config import Settings, load_settings
from devmatrix.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture
def env_file(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / ".env.test"
        path.write_text(text)
        return path

    return write


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def test_example_file_is_valid_and_documents_every_variable():
    settings = load_settings(".env.test.example")
    assert settings.postgres_db == "devmatrix_test"
    lines = Path(".env.test.example").read_text().splitlines()
    documented = {line.split("=")[0] for line in lines if line and not line.startswith("#")}
    assert documented == {name.upper() for name in Settings.model_fields}
    for index, line in enumerate(lines):  # every variable has its own comment line above it
        if line and not line.startswith("#"):
            assert lines[index - 1].startswith("#"), f"{line} has no comment line"


def test_malformed_line_is_named_with_its_number(env_file):
    found = problems(env_file("POSTGRES_PORT=5432\nthis is not a setting\n"))
    assert found == ["line 2: cannot parse 'this is not a setting' (expected NAME=value)"]


def test_non_numeric_port_names_the_variable_and_value(env_file):
    assert problems(env_file("POSTGRES_PORT=abc\n")) == [
        "POSTGRES_PORT=abc is not a port number (1-65535)"
    ]


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_out_of_range_port_is_rejected(env_file, port):
    assert problems(env_file(f"REDIS_PORT={port}\n")) == [
        f"REDIS_PORT={port} is not a port number (1-65535)"
    ]


def test_every_problem_is_reported_at_once(env_file):
    found = problems(env_file("garbage line\nREDIS_PORT=x\nCHROMADB_PORT=99999\nLOG_LEVEL=LOUD\n"))
    assert len(found) == 4
    assert found[0].startswith("line 1:")
    assert any(p.startswith("REDIS_PORT=x") for p in found)
    assert any(p.startswith("CHROMADB_PORT=99999") for p in found)
    assert any(p.startswith("LOG_LEVEL=LOUD") for p in found)


def test_error_message_says_where_to_fix(env_file):
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file("REDIS_PORT=x\n"))
    assert "edit" in str(caught.value) and ".env.test" in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_required_key_for_paid_backend(env_file):
    found = problems(env_file("LLM_BACKEND=anthropic\nANTHROPIC_API_KEY=\n"))
    assert found == [
        "ANTHROPIC_API_KEY is required when LLM_BACKEND=anthropic"
        " (set the key, or LLM_BACKEND=local for the offline server)"
    ]


@pytest.mark.parametrize("name", ["devmatrix_test; DROP DATABASE x", "Bad-Name", "x'--", ""])
def test_database_name_with_sql_metacharacters_is_rejected(env_file, name):
    found = problems(env_file(f'POSTGRES_DB="{name}"\n'))
    assert len(found) == 1 and found[0].startswith("POSTGRES_DB=")
    assert "plain identifier" in found[0]


def test_unknown_variable_is_a_typo_not_ignored(env_file):
    assert problems(env_file("POSTGRES_PROT=5432\n")) == [
        "POSTGRES_PROT=5432: unknown variable (a typo? see .env.test.example)"
    ]


@pytest.mark.parametrize("line", ["ANTROPIC_API_KEY=sk-ant-api03-secret", "API_TOKN=tok-secret",
                                  "REDIS_PASWORD=pw-secret", "MY_SECRET=s-secret"])
def test_a_mistyped_secret_is_named_but_its_value_never_printed(env_file, line):
    name, value = line.split("=")
    (found,) = problems(env_file(line + "\n"))
    assert found == f"{name}=<hidden, {len(value)} characters>: unknown variable (a typo? see .env.test.example)"
    assert "secret" not in found


def test_a_malformed_line_holding_a_secret_is_not_echoed(env_file):
    found = problems(env_file("ANTHROPIC_API_KEY sk-ant-api03-secret\nPOSTGRES_PORT 5432\n"))
    assert found[0] == "line 1: cannot parse 'ANTHROPIC_API_KEY … (rest hidden: it looks like a secret)'" \
                       " (expected NAME=value)"
    assert found[1] == "line 2: cannot parse 'POSTGRES_PORT 5432' (expected NAME=value)"
    assert not any("sk-ant" in p for p in found)


def test_environment_overrides_file(env_file, monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "6390")
    assert load_settings(env_file("REDIS_PORT=6380\n")).redis_port == 6390


def test_required_file_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.env", require_file=True)


def test_secrets_never_show_in_repr(env_file):
    settings = load_settings(env_file("POSTGRES_PASSWORD=hunter2\nANTHROPIC_API_KEY=sk-ant-secret\n"))
    assert "hunter2" not in repr(settings) and "sk-ant-secret" not in repr(settings)
    assert settings.resolved_llm_backend == "anthropic"


def test_backend_defaults_to_local_without_key(env_file):
    assert load_settings(env_file("ANTHROPIC_API_KEY=\n")).resolved_llm_backend == "local"


def test_anthropic_base_url_must_be_an_http_url(env_file):
    assert problems(env_file("ANTHROPIC_BASE_URL=api.anthropic.com\n")) == [
        "ANTHROPIC_BASE_URL=api.anthropic.com: must be an http(s) URL such as https://api.anthropic.com"
    ]
