"""The DevMatrix HTTP API: ``create_app(settings)``; run it with ``python -m devmatrix.api``."""

from devmatrix.api.app import create_app

__all__ = ["create_app"]
