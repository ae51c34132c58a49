"""Unit tests see only the defaults: no DevMatrix variable leaks in from the shell."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devmatrix.config import ENV_FILE_VARIABLE, Settings
from devmatrix.stack.system import free_port


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*Settings.model_fields, ENV_FILE_VARIABLE]:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (from the kernel's backlog) and never answers: what a
    frozen server looks like from outside. The injected network failure of a unit test."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port where nothing listens: connections are refused, as during a restart."""
    return free_port()


@pytest.fixture
def http_server() -> Iterator[Callable[[Callable[[str], tuple[int, bytes]]], int]]:
    """serve(answer) → the port of a real HTTP server on 127.0.0.1 where a GET of ``path`` gets
    ``answer(path)``, a (status, body) pair. The double of a remote service's HTTP API; each
    server is shut down after the test."""
    started: list[ThreadingHTTPServer] = []

    def serve(answer: Callable[[str], tuple[int, bytes]]) -> int:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = answer(self.path)
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return httpd.server_address[1]

    yield serve
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()
