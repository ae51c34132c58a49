"""Invoke entry point: `invoke --list` shows every phase. The tasks live in devmatrix.tasks."""

from devmatrix.tasks import namespace

__all__ = ["namespace"]
