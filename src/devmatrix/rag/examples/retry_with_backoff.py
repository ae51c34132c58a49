# id: retry_with_backoff
# title: Retry a flaky call with exponential backoff and jitter
# topic: error_handling
# tags: retry, exponential backoff, jitter, decorator, transient errors, error handling
import functools
import random
import time
from collections.abc import Callable


def retry(times: int = 3, base_delay: float = 0.1, retry_on: tuple[type[Exception], ...] = (ConnectionError,),
          sleep: Callable[[float], None] = time.sleep):
    """Retry only the errors that are worth retrying; re-raise the last one."""

    def decorator(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for attempt in range(times):
                try:
                    return function(*args, **kwargs)
                except retry_on:
                    if attempt == times - 1:
                        raise
                    sleep(base_delay * 2**attempt * random.uniform(0.5, 1.5))
            return None

        return wrapper

    return decorator


if __name__ == "__main__":
    calls, waits = [], []

    @retry(times=3, sleep=waits.append)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    assert flaky() == "ok" and len(calls) == 3 and len(waits) == 2 and waits[1] > waits[0] * 0.3

    @retry(times=5, sleep=waits.append)
    def broken() -> None:
        raise KeyError("not transient")

    try:
        broken()
    except KeyError:
        pass
    assert len(waits) == 2  # a KeyError is not retried
