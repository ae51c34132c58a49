"""Shared by every tier: the settings, and the rule that a test's tier is its directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.config import Settings, load_settings

TIERS = {"unit", "integration", "smoke", "real_api"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test under tests/<tier>/ must carry that tier's marker, so `-m` selects honestly."""
    root = Path(__file__).parent
    for item in items:
        tier = Path(item.fspath).relative_to(root).parts[0]
        if tier in TIERS and item.get_closest_marker(tier) is None:
            raise pytest.UsageError(f"{item.nodeid} is under tests/{tier}/ but not marked {tier}")


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings every real-service test uses (.env.test, or the documented defaults)."""
    return load_settings()
