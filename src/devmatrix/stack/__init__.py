"""The stack: the service registry, the providers that run it (native, compose, external), the side stack."""

from devmatrix.stack.base import Provider, ServiceState
from devmatrix.stack.providers import get_provider, resolve_provider

__all__ = ["Provider", "ServiceState", "get_provider", "resolve_provider"]
