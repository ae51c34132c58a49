"""A four-function calculator."""


class Calculator:
    """Add, subtract, multiply and divide two numbers."""

    def add(self, a: float, b: float) -> float:
        """Return a + b."""
        return a + b

    def subtract(self, a: float, b: float) -> float:
        """Return a - b."""
        return a - b

    def multiply(self, a: float, b: float) -> float:
        """Return a * b."""
        return a * b

    def divide(self, a: float, b: float) -> float:
        """Return a / b; dividing by zero raises ZeroDivisionError with a clear message."""
        if b == 0:
            raise ZeroDivisionError("division by zero: b must not be 0")
        return a / b
