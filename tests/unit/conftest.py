"""Unit tests see only the defaults: no DevMatrix variable leaks in from the shell."""

from __future__ import annotations

import pytest

from devmatrix.config import ENV_FILE_VARIABLE, Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*Settings.model_fields, ENV_FILE_VARIABLE]:
        monkeypatch.delenv(name.upper(), raising=False)
