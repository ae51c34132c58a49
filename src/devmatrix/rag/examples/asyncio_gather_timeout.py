# id: asyncio_gather_timeout
# title: Run coroutines concurrently with asyncio.gather and a timeout
# topic: async
# tags: asyncio, async, await, gather, timeout, concurrency
import asyncio
import time


async def fetch(name: str, delay: float) -> str:
    await asyncio.sleep(delay)  # stands for network I/O
    return name


async def fetch_all(delays: dict[str, float], timeout_s: float) -> list[str]:
    """All results in order, or TimeoutError when they do not finish in time."""
    async with asyncio.timeout(timeout_s):
        return await asyncio.gather(*(fetch(n, d) for n, d in delays.items()))


if __name__ == "__main__":
    start = time.perf_counter()
    assert asyncio.run(fetch_all({"a": 0.05, "b": 0.05, "c": 0.05}, 1.0)) == ["a", "b", "c"]
    assert time.perf_counter() - start < 0.5  # concurrent, not 3 x 0.05 in a row
    try:
        asyncio.run(fetch_all({"slow": 1.0}, 0.05))
    except TimeoutError:
        pass
    else:
        raise AssertionError("the timeout did not fire")
