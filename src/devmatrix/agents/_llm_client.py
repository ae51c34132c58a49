"""An agent's LLM client: the one it was given, or one it builds on first use and then owns."""

from __future__ import annotations

from typing import Any

from devmatrix import llm  # its face is lazy: the SDK loads when a client is built, not here
from devmatrix.config import Settings


class AgentClient:
    """``get()`` returns the given client, else builds one (``create_llm_client(settings,
    **overrides)``) once. ``close()`` closes only a client built here: a given one belongs to the giver."""

    def __init__(self, settings: Settings, given: object | None = None, **overrides: Any) -> None:
        self._settings = settings
        self._overrides = overrides
        self._client = given
        self._owned = False

    def get(self) -> Any:
        if self._client is None:
            self._client = llm.create_llm_client(self._settings, **self._overrides)
            self._owned = True
        return self._client

    def close(self) -> None:
        if self._owned:
            self._client.close()
            self._client, self._owned = None, False
