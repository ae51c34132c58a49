"""Real servers on a thread, for tests that need an endpoint of their own (a scripted Messages
API in the unit tier, a recording proxy in front of the local LLM in integration, the Redis
double's TCP server)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def in_a_thread(server: socketserver.BaseServer) -> Iterator[int]:
    """Serve ``server`` on a daemon thread; yield its port; stop, close and join it after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[int]:
    """Serve ``handler`` on a free port of ``host``; yield the port; stop and join after."""
    with in_a_thread(ThreadingHTTPServer((host, 0), handler)) as port:
        yield port
