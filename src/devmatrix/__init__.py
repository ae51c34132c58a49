"""DevMatrix Local: LLM code generation on a real local stack."""

__version__ = "0.1.0"
