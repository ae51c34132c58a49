"""What the native provider asks of the OS: packages, users, ports."""

from __future__ import annotations

import os
import socket

import pytest

from devmatrix.errors import InstallError
from devmatrix.stack import system

pytestmark = pytest.mark.unit


def test_missing_package_without_root_prints_the_exact_install_command(monkeypatch):
    # the OS user is not ours to test: pretend not to be root
    monkeypatch.setattr(system, "is_root", lambda: False)
    with pytest.raises(InstallError) as caught:
        system.ensure_programs({"devmatrix-no-such-program": "devmatrix-no-such-package"})
    message = str(caught.value)
    assert "devmatrix-no-such-program" in message
    assert ("sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends"
            " devmatrix-no-such-package'") in message


def test_present_programs_need_nothing(monkeypatch):
    # not root: a wrong "missing" verdict raises here instead of running apt-get
    monkeypatch.setattr(system, "is_root", lambda: False)
    said: list[str] = []
    assert system.missing_programs({"sh": "dash"}) == {}
    system.ensure_programs({"sh": "dash"}, echo=said.append)
    assert said == []


def test_port_holder_names_the_listening_process():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        pid, description = system.port_holder(port)
        assert pid == os.getpid()
        assert f"pid {os.getpid()}" in description
    assert system.port_holder(port) is None


def test_free_ports_are_distinct_unheld_and_outside_the_kernels_own_picks():
    ports = system.free_ports(12)
    assert len(set(ports)) == 12
    assert all(system.PICK_FROM <= port < system._ephemeral_start() for port in ports)
    for port in ports:  # nothing listens there: we can bind each
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
