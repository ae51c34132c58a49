"""The Messages-API double: a real HTTP server that answers as the paid API does, with
scripted answers (`python -m devmatrix.llm.double --help`)."""

from devmatrix.llm.double.server import DEFAULT_API_KEY, Fault, MessagesDouble, served_models

__all__ = ["DEFAULT_API_KEY", "Fault", "MessagesDouble", "served_models"]
