"""structlog, configured once per entry point: JSON off a terminal, compact text on one, to stderr.

Logs go to stderr so that stdout carries only results (`--json` stays parseable).
Commands that print a report for a person (invoke tasks, `devmatrix`) pass
``report=True``: only warnings and errors reach stderr then, so no log line lands in
the middle of a table; their info and debug events go to LOG_FILE when one is set.
The API server logs everything at LOG_LEVEL.
A redaction processor removes API keys and tokens from every event, whatever
field they hide in.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

from devmatrix.config import Settings

# Anthropic keys, bearer tokens, and any field whose name says it is a secret.
_SECRET_VALUE = re.compile(r"(sk-ant-[A-Za-z0-9_\-]{4,}|Bearer\s+[A-Za-z0-9._\-]{8,})")
# Whole name parts only: `token` and `access_token` are secrets, `input_tokens` (a count) is not.
_SECRET_FIELD = re.compile(r"(^|_)(api_?key|token|password|secret|authorization)$", re.I)
REDACTED = "[REDACTED]"

_configured = False


def redact(_logger: object, _method: str, event: dict) -> dict:
    """Drop secrets: by field name, and by shape inside any string value."""
    for key, value in list(event.items()):
        if _SECRET_FIELD.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = _SECRET_VALUE.sub(REDACTED, value)
    return event


class _StderrLogger:
    """Prints each event to the ``sys.stderr`` of the moment, not the one at configure time
    (a redirected or captured stream may have been replaced, or closed, since)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def configure_logging(settings: Settings, *, force: bool = False, report: bool = False) -> None:
    global _configured
    if _configured and not force:
        return
    level = getattr(logging, settings.log_level)
    if report and not settings.log_file:
        level = max(level, logging.WARNING)
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not (settings.log_file is None and sys.stderr.isatty()))
    if as_json:
        renderer, stamp = structlog.processors.JSONRenderer(), structlog.processors.TimeStamper(fmt="iso", utc=True)
    else:  # a person reads it on a terminal: time of day, no padding
        renderer = structlog.dev.ConsoleRenderer(pad_event=0)
        stamp = structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
    if settings.log_file:
        factory = structlog.PrintLoggerFactory(file=open(settings.log_file, "a", encoding="utf-8"))  # noqa: SIM115
    else:
        factory = lambda *_: _StderrLogger()  # noqa: E731
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    _configured = True
