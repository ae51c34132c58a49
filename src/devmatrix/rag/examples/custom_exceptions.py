# id: custom_exceptions
# title: A custom exception hierarchy with context and chaining
# topic: error_handling
# tags: exceptions, custom exception, raise from, error handling, hierarchy
class AppError(Exception):
    """Base of this application's errors: catch this to catch them all."""


class NotFoundError(AppError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind, self.key = kind, key


class ConfigError(AppError):
    pass


def load_port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError as error:
        raise ConfigError(f"port must be a number, got {raw!r}") from error  # keeps the cause
    if not 1 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range 1-65535")
    return port


if __name__ == "__main__":
    assert load_port("8080") == 8080
    try:
        load_port("http")
    except AppError as error:
        assert isinstance(error, ConfigError) and isinstance(error.__cause__, ValueError)
    error = NotFoundError("user", 42)
    assert str(error) == "user 42 not found" and isinstance(error, AppError)
