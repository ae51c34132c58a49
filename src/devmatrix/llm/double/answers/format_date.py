"""Date formatting."""

from datetime import date, datetime


def format_date(value: date | datetime | str, fmt: str = "%Y-%m-%d") -> str:
    """Format a date, a datetime or an ISO 8601 string with ``fmt`` (strftime codes)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"not an ISO 8601 date: {value!r}") from error
    if not isinstance(value, date):
        raise TypeError(f"expected a date, datetime or ISO string, got {type(value).__name__}")
    return value.strftime(fmt)
