"""An open-loop (wrk2-style) HTTP/1.1 load generator: requests leave on a fixed schedule.

A closed-loop client (wrk, locust) sends the next request only when the last one
came back, so a slow server is asked less and its stalls vanish from the numbers
("coordinated omission"). Here request k is due at start + k / rate whatever came
back, goes out on the first idle keep-alive connection, and its latency is counted
from when it was *due*: time spent waiting for a connection is the server's too.
Debian has wrk but not wrk2, hence this small asyncio client.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class OpenLoopResult:
    rate: float  # the schedule, requests/s
    seconds: float  # from the first due time to the last answer
    latencies_s: list[float] = field(default_factory=list)  # due → whole answer read, per 2xx request
    errors: int = 0  # non-2xx answers and broken connections
    late_sends: int = 0  # requests that left more than 1 ms after they were due

    @property
    def achieved_rps(self) -> float:
        return len(self.latencies_s) / self.seconds if self.seconds > 0 else 0.0


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length body; its status code."""
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _run(host: str, port: int, path: str, rate: float, seconds: float, connections: int,
               warmup_s: float) -> OpenLoopResult:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    idle: asyncio.Queue = asyncio.Queue()
    opened = [await asyncio.open_connection(host, port) for _ in range(connections)]
    for conn in opened:
        idle.put_nowait(conn)
    loop = asyncio.get_running_loop()
    result = OpenLoopResult(rate=rate, seconds=0.0)
    measure_from = loop.time() + 0.05 + warmup_s

    async def one(due: float) -> None:
        reader, writer = await idle.get()
        try:
            writer.write(request)
            status = await _read_answer(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += due >= measure_from
            writer.close()
            idle.put_nowait(await asyncio.open_connection(host, port))
            return
        done = loop.time()
        idle.put_nowait((reader, writer))
        if due < measure_from:
            return
        if 200 <= status < 300:
            result.latencies_s.append(done - due)
        else:
            result.errors += 1

    first = loop.time() + 0.05
    total = int(rate * (seconds + warmup_s))
    tasks = []
    for k in range(total):
        due = first + k / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001 and due >= measure_from:
            result.late_sends += 1
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    result.seconds = loop.time() - measure_from
    for _, writer in opened:
        writer.close()
    return result


def open_loop(url_host: str, port: int, path: str, *, rate: float, seconds: float, connections: int = 8,
              warmup_s: float = 2.0) -> OpenLoopResult:
    """GET ``path`` at ``rate`` requests/s for ``seconds`` (after ``warmup_s`` not counted)."""
    started = time.perf_counter()
    result = asyncio.run(_run(url_host, port, path, rate, seconds, connections, warmup_s))
    result.seconds = min(result.seconds, time.perf_counter() - started)
    return result
