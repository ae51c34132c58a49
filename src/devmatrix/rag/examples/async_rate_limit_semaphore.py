# id: async_rate_limit_semaphore
# title: Limit concurrent async tasks with asyncio.Semaphore
# topic: async
# tags: asyncio, semaphore, rate limiting, bounded concurrency, async
import asyncio


async def run_bounded(jobs: int, limit: int) -> int:
    """Run ``jobs`` tasks, at most ``limit`` at once; return the peak concurrency seen."""
    semaphore = asyncio.Semaphore(limit)
    running = peak = 0

    async def job() -> None:
        nonlocal running, peak
        async with semaphore:
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(job() for _ in range(jobs)))
    return peak


if __name__ == "__main__":
    assert asyncio.run(run_bounded(jobs=20, limit=3)) == 3
    assert asyncio.run(run_bounded(jobs=2, limit=5)) == 2
