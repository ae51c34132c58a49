"""Secrets never reach a log line; counts and ordinary fields do."""

from __future__ import annotations

import pytest

from devmatrix.monitoring.logging import REDACTED, redact

pytestmark = pytest.mark.unit


def test_secret_fields_and_key_shaped_values_are_redacted():
    event = redact(None, "info", {
        "api_key": "anything", "ANTHROPIC_API_KEY": "x",  # pragma: allowlist secret
        "access_token": "t", "password": "p",  # pragma: allowlist secret
        "authorization": "Bearer abc", "message": "called with sk-ant-api03-abcdefgh in the text",
    })
    assert event["api_key"] == event["ANTHROPIC_API_KEY"] == REDACTED
    assert event["access_token"] == event["password"] == event["authorization"] == REDACTED
    assert "sk-ant" not in event["message"] and REDACTED in event["message"]


def test_token_counts_are_not_secrets():
    event = redact(None, "info", {"input_tokens": 35, "output_tokens": 16, "model": "m"})
    assert event == {"input_tokens": 35, "output_tokens": 16, "model": "m"}
