"""The names and values the settings are built from: defaults, patterns, what is a secret."""

from __future__ import annotations

import re

DEFAULT_ENV_FILE = ".env.test"
# The public Anthropic API; ANTHROPIC_BASE_URL points every client elsewhere (a gateway,
# a proxy, a regional endpoint).
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ENV_FILE_VARIABLE = "DEVMATRIX_ENV_FILE"

Port = int
# Where Prometheus, the exporters, the Pushgateway and Grafana listen (no setting: never exposed).
MONITORING_HOST = "127.0.0.1"
# Postgres identifiers are interpolated into DDL (CREATE DATABASE); only plain
# lower-case names are accepted so no quoting trick can reach the server.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A host setting holds a name or an address, nothing else: the port has its own setting,
# and the scheme is the client's business. (RFC 1123 labels; IP addresses are parsed.)
HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
HOST_WITH_PORT = re.compile(r"^\[?(?P<host>[^\[\]]+?)\]?:(?P<port>\d+)$")
# What Chroma 1.x accepts as a collection name (it refuses the others when the collection is made).
CHROMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
# Every bind address that means "this machine" for a collision between two port settings.
ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with, never bound
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
