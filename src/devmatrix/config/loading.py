"""Loading Settings once per entry point: the environment, then the settings file, then defaults;
every malformed line and every invalid value of the file reported at once (one ConfigError)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from dotenv.parser import parse_stream
from pydantic import ValidationError

from devmatrix.config._constants import DEFAULT_ENV_FILE, ENV_FILE_VARIABLE, OLD_DEFAULT_API_TOKEN
from devmatrix.config.settings import Settings
from devmatrix.config.values import looks_secret, shown_value
from devmatrix.errors import ConfigError

# python-dotenv logs its own warning for a malformed line; we report it better
# (with the line's text, together with every other problem), so silence it.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)
log = logging.getLogger("devmatrix.config")


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
    shown = shown_value(name, value)
    if error["type"] == "extra_forbidden":
        return f"{name}={shown}: unknown variable (a typo? see .env.test.example)"
    if error["type"] == "missing":
        return f"{name} is required but not set"
    if name.endswith("_PORT"):
        return f"{name}={shown} is not a port number (1-65535)"
    return f"{name}={shown}: {message}"
