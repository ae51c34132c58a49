"""A port held on the wildcard address (0.0.0.0, ::) is held on 127.0.0.1 too: `up` must see it.

The holder is a real listening socket of this test's own process; psutil reads it from the kernel."""

from __future__ import annotations

import os
import socket

import pytest

from devmatrix.stack.system import port_holder

pytestmark = pytest.mark.unit


def _listen(family: socket.AddressFamily, host: str) -> socket.socket:
    server = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind((host, 0))
    server.listen()
    return server


@pytest.mark.parametrize(("family", "host"), [
    (socket.AF_INET, "0.0.0.0"),  # noqa: S104 - the wildcard bind this test is about
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET6, "::"),
    (socket.AF_INET6, "::1"),
])
def test_a_port_held_on_loopback_or_the_wildcard_is_not_free(family, host):
    try:
        server = _listen(family, host)
    except OSError as error:  # no IPv6 on this machine: nothing can hold a port there
        pytest.skip(f"cannot listen on {host}: {error}")
    with server:
        port = server.getsockname()[1]
        holder = port_holder(port)
        assert holder is not None, f"a listener on {host}:{port} was not seen"
        pid, description = holder
        assert pid == os.getpid() and f"pid {pid}" in description


def test_a_port_held_on_another_address_only_is_free_on_ours():
    with _listen(socket.AF_INET, "127.0.0.2") as server:
        port = server.getsockname()[1]
        assert port_holder(port) is None  # 127.0.0.2 is not the address the service binds
        assert port_holder(port, host="127.0.0.2") is not None  # but it is held there


def test_a_free_port_has_no_holder():
    with _listen(socket.AF_INET, "127.0.0.1") as server:
        port = server.getsockname()[1]
    assert port_holder(port) is None
