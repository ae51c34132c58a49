# id: async_producer_consumer
# title: Async producer and consumers with asyncio.Queue
# topic: async
# tags: asyncio, queue, producer consumer, workers, async
import asyncio


async def process(items: list[int], workers: int = 3) -> list[int]:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=10)
    results: list[int] = []

    async def consumer() -> None:
        while True:
            item = await queue.get()
            results.append(item * item)
            queue.task_done()

    tasks = [asyncio.create_task(consumer()) for _ in range(workers)]
    for item in items:
        await queue.put(item)  # waits when the queue is full: back-pressure
    await queue.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(results)


if __name__ == "__main__":
    assert asyncio.run(process(list(range(25)))) == [i * i for i in range(25)]
