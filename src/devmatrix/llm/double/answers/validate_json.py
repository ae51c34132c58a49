"""JSON validation."""

import json
from typing import Any


def validate_json(text: str) -> tuple[bool, Any, str | None]:
    """(valid, parsed value or None, error message or None) for a JSON document."""
    if not isinstance(text, str):
        return False, None, f"expected a string, got {type(text).__name__}"
    try:
        return True, json.loads(text), None
    except json.JSONDecodeError as error:
        return False, None, f"line {error.lineno} column {error.colno}: {error.msg}"
