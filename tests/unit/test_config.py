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


@pytest.mark.parametrize("line", [
    "ANTROPIC_API_KEY=sk-ant-api03-secret",  # pragma: allowlist secret - a test value
    "API_TOKN=tok-secret", "REDIS_PASWORD=pw-secret", "MY_SECRET=s-secret",
])
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


def test_the_generation_limit_is_empty_for_the_backends_own_or_a_number_from_1_to_32(env_file):
    assert load_settings(env_file("API_MAX_CONCURRENT_GENERATIONS=\n")).api_max_concurrent_generations is None
    assert load_settings(env_file("API_MAX_CONCURRENT_GENERATIONS=3\n")).api_max_concurrent_generations == 3
    assert problems(env_file("API_MAX_CONCURRENT_GENERATIONS=0\n")) == [
        "API_MAX_CONCURRENT_GENERATIONS=0: Input should be greater than or equal to 1"]
    assert problems(env_file("API_MAX_CONCURRENT_GENERATIONS=33\n")) == [
        "API_MAX_CONCURRENT_GENERATIONS=33: Input should be less than or equal to 32"]


# --- mistakes a file can hold that python-dotenv and plain types let through ----------------
def test_a_variable_set_twice_is_named_with_both_lines(env_file):
    assert problems(env_file("REDIS_PORT=6379\nLOG_LEVEL=INFO\nredis_port=6380\n")) == [  # pragma: allowlist secret
        "line 3: REDIS_PORT is set again (first on line 1); only the last one would count: keep one of them"
    ]


@pytest.mark.parametrize("name", ["DEVMATRIX_STATE_DIR", "RAG_CACHE_DIR", "WORKSPACE_DIR", "BACKUP_DIR"])
def test_a_directory_setting_that_is_a_file_is_refused(env_file, tmp_path, name):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert problems(env_file(f"{name}={a_file}\n")) == [
        f"{name}={a_file}: is a file, not a directory; point it at a directory (created if missing),"
        " or move that file away"
    ]
    assert problems(env_file(f"{name}={a_file}/sub\n")) == [
        f"{name}={a_file}/sub: lies under {a_file}, which is a file, not a directory; point it at a directory"
        " (created if missing), or move that file away"
    ]


def test_a_missing_directory_is_fine_it_is_created_later(env_file, tmp_path):
    assert load_settings(env_file(f"WORKSPACE_DIR={tmp_path}/not/yet\n")).workspace_dir == tmp_path / "not/yet"


def test_log_file_must_not_be_a_directory(env_file, tmp_path):
    assert problems(env_file(f"LOG_FILE={tmp_path}\n")) == [
        f"LOG_FILE={tmp_path}: is a directory; name a file to append the log to (its folder is created if missing)"
    ]


@pytest.mark.parametrize(("line", "expected"), [
    ("POSTGRES_HOST=localhost:5432", "POSTGRES_HOST=localhost:5432: carries a port;"
                                     " set POSTGRES_HOST=localhost and POSTGRES_PORT=5432"),
    ("REDIS_HOST=127.0.0.1:6380", "REDIS_HOST=127.0.0.1:6380: carries a port;"
                                  " set REDIS_HOST=127.0.0.1 and REDIS_PORT=6380"),
    ("CHROMADB_HOST=http://127.0.0.1:8001", "CHROMADB_HOST=http://127.0.0.1:8001: carries a scheme (http://);"
                                           " set the host alone: CHROMADB_HOST=127.0.0.1"),
    ("LLM_HOST=", "LLM_HOST=: is empty; set a host name or IP address, e.g. 127.0.0.1"),
    ("API_HOST=my host", "API_HOST=my host: is not a host name or IP address (letters, digits, - and . only),"
                         " e.g. 127.0.0.1"),
])
def test_a_host_setting_holds_a_host_only(env_file, line, expected):
    assert problems(env_file(line + "\n")) == [expected]


@pytest.mark.parametrize("host", ["localhost", "db.internal.example", "10.0.0.7", "::1", "0.0.0.0"])  # noqa: S104
def test_plain_hosts_and_addresses_pass(env_file, host):
    assert load_settings(env_file(f"POSTGRES_HOST={host}\n")).postgres_host == host


def test_two_services_on_one_port_are_named_together(env_file):
    assert problems(env_file("API_PORT=8001\nPROMETHEUS_PORT=9091\n")) == [
        "CHROMADB_PORT=8001 and API_PORT=8001: two services cannot listen on one port; give each its own port",
        "PROMETHEUS_PORT=9091 and PUSHGATEWAY_PORT=9091: two services cannot listen on one port;"
        " give each its own port",
    ]


def test_one_port_on_two_different_machines_is_fine(env_file):
    settings = load_settings(env_file("POSTGRES_HOST=db.example\nREDIS_HOST=cache.example\nREDIS_PORT=5432\n"))
    assert settings.redis_port == settings.postgres_port == 5432


@pytest.mark.parametrize("name", ["DEVMATRIX_STATE_DIR", "WORKSPACE_DIR", "BACKUP_DIR", "RAG_CACHE_DIR"])
def test_an_empty_directory_setting_is_not_the_current_directory(env_file, name):
    assert problems(env_file(f"{name}=\n")) == [f"{name}=: is empty; name a directory (see .env.test.example"
                                                f" for the default)"]


def test_a_path_too_long_for_the_file_system_is_a_problem_not_a_crash(env_file):
    found = problems(env_file(f"WORKSPACE_DIR={'x' * 300}\nLOG_FILE={'y' * 300}\n"))
    assert [p.split("=")[0] for p in found] == ["WORKSPACE_DIR", "LOG_FILE"]
    assert all("cannot be a path here: File name too long" in p for p in found)


@pytest.mark.parametrize("name", ["a b", "ab", "-starts-with-dash", "two..dots", "x" * 513])
def test_a_collection_name_chroma_would_refuse_is_named_here(env_file, name):
    (found,) = problems(env_file(f'CHROMADB_COLLECTION="{name}"\n'))
    assert found.startswith(f"CHROMADB_COLLECTION={name}: is not a Chroma collection name: 3-512 characters")


def test_only_the_installed_embedding_model_is_accepted(env_file):
    assert problems(env_file("RAG_EMBEDDING_MODEL=all-mpnet-base-v2\n")) == [  # pragma: allowlist secret - a model name
        "RAG_EMBEDDING_MODEL=all-mpnet-base-v2: Input should be 'all-MiniLM-L6-v2'"
    ]
