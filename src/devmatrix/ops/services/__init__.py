"""ops/services."""
