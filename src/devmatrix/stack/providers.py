"""Which provider runs the stack: DEVMATRIX_PROVIDER, with `auto` decided by a live Docker engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from devmatrix.config import Settings
from devmatrix.stack.base import Provider
from devmatrix.stack.compose import ComposeProvider, engine_answers
from devmatrix.stack.external import ExternalProvider
from devmatrix.stack.native import NativeProvider


def resolve_provider(settings: Settings) -> Literal["native", "compose", "external"]:
    """DEVMATRIX_PROVIDER with `auto` decided: compose when a Docker engine answers, else native."""
    if settings.devmatrix_provider != "auto":
        return settings.devmatrix_provider
    return "compose" if engine_answers() else "native"


def get_provider(
    settings: Settings, *, env_file: Path, echo: Callable[[str], None] = print
) -> Provider:
    """The provider named by DEVMATRIX_PROVIDER; `auto` prefers a live Docker engine."""
    choice = settings.devmatrix_provider
    if choice == "auto":
        engine = engine_answers()
        choice = "compose" if engine else "native"
        reason = "a Docker engine answers" if engine else "no Docker engine answers"
        echo(f"provider: {choice} (auto: {reason})")
    if choice == "compose":
        return ComposeProvider(settings, env_file=env_file)
    if choice == "external":
        return ExternalProvider(settings, env_file=env_file, echo=echo)
    return NativeProvider(settings, env_file=env_file, echo=echo)
