# id: context_manager_cleanup
# title: Guaranteed cleanup with context managers and contextlib
# topic: error_handling
# tags: context manager, with, contextlib, cleanup, finally, ExitStack
import contextlib
from collections.abc import Iterator


class Resource:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        log.append(f"open {name}")

    def close(self) -> None:
        self.log.append(f"close {self.name}")


@contextlib.contextmanager
def opened(name: str, log: list[str]) -> Iterator[Resource]:
    resource = Resource(name, log)
    try:
        yield resource
    finally:  # runs on success and on error
        resource.close()


if __name__ == "__main__":
    log: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(opened("db", log))
            stack.enter_context(opened("file", log))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert log == ["open db", "open file", "close file", "close db"]  # reverse order, even on error
