"""Pytest plugins shared by every tier (registered in tests/conftest.py)."""
