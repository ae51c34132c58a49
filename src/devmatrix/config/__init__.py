"""Settings: the one configuration object, loaded once at each entry point.

Values come from the process environment, then from `.env.test` (or the file
named by ``DEVMATRIX_ENV_FILE``), then from the defaults in ``settings``; every variable is
documented in `.env.test.example`. A bad file is reported whole: every malformed
line and every bad value at once, each with its name, its value and the fix.

The package only re-exports: ``_constants`` (defaults, patterns, the public secrets refused in
production), ``values`` (checks of one value), ``settings`` (the ``Settings`` class and the values
derived from it) and ``loading`` (``load_settings``: the file, its problems at once).
"""

from __future__ import annotations

from devmatrix.config._constants import (
    DEFAULT_ANTHROPIC_BASE_URL,
    DEFAULT_ENV_FILE,
    ENV_FILE_VARIABLE,
    MONITORING_HOST,
    OLD_DEFAULT_API_TOKEN,
    PUBLIC_DEFAULTS,
    SECRET_VALUE_PREFIXES,
    SECRET_WORDS,
    Port,
)
from devmatrix.config.loading import env_file_path, load_settings
from devmatrix.config.settings import Settings, port_settings
from devmatrix.config.values import looks_secret

__all__ = [
    "DEFAULT_ANTHROPIC_BASE_URL", "DEFAULT_ENV_FILE", "ENV_FILE_VARIABLE", "MONITORING_HOST", "OLD_DEFAULT_API_TOKEN",
    "PUBLIC_DEFAULTS", "SECRET_VALUE_PREFIXES", "SECRET_WORDS", "Port", "Settings", "env_file_path",
    "load_settings", "looks_secret", "port_settings",
]
