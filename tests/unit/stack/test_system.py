"""What the native provider asks of the OS: packages, users, ports."""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

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


def test_a_process_is_described_by_its_own_command_line(spawn):
    holder = spawn("serving-port-42")
    assert system.describe_process(holder.pid).startswith(f"pid {holder.pid} ({spawn.argv[0]} -c ")
    assert system.describe_process(None) == "a process this user cannot see (run as root to name it)"


def test_an_existing_system_user_is_taken_as_it_is(monkeypatch):
    # not root: creating it instead would raise here
    monkeypatch.setattr(system, "is_root", lambda: False)
    me = pwd.getpwuid(os.getuid())
    assert system.ensure_system_user(me.pw_name).pw_uid == me.pw_uid


# --- root with apt: the packages are installed, and a failure says which command and why -------
# apt-get is not ours to test: this one records its arguments, and behaves as apt-get does without
# a terminal: an unknown option is an error, an install without -y aborts at its question.
FAKE_APT_GET = """#!/bin/sh
echo "$*" >> "$APT_CALLS"
for arg in "$@"; do
    case "$arg" in -y|-q|--no-install-recommends|update|install) ;;
        -*) echo "E: Command line option $arg is not understood" >&2; exit 100;; esac
done
if [ "$1" = update ]; then
    [ -n "$APT_UPDATE_FAILS" ] && echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2 \
        && exit 100
    exit 0
fi
case " $* " in *" -y "*) ;; *) echo "Do you want to continue? [Y/n] Abort." >&2; exit 1;; esac
for package in "$@"; do
    [ "$package" = devmatrix-fake-package ] && printf '#!/bin/sh\n' > "$APT_INSTALLS/devmatrix-fake-program" \
        && chmod +x "$APT_INSTALLS/devmatrix-fake-program" && exit 0
done
echo "E: Unable to locate package $package" >&2
exit 100
"""


@pytest.fixture
def apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Root with the fake apt-get first on the install's PATH; returns the file of its calls."""
    bin_dir, installs, calls = tmp_path / "bin", tmp_path / "installed", tmp_path / "apt-calls"
    bin_dir.mkdir()
    installs.mkdir()
    (bin_dir / "apt-get").write_text(FAKE_APT_GET)
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setattr(system, "is_root", lambda: True)
    monkeypatch.setenv("PATH", f"{installs}{os.pathsep}{os.environ['PATH']}")  # where installed programs land
    monkeypatch.setattr(system, "APT_ENV", {**system.APT_ENV, "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
                                            "APT_CALLS": str(calls), "APT_INSTALLS": str(installs)})
    return calls


def test_as_root_a_missing_program_is_installed_with_apt_get_and_found(apt_get):
    said: list[str] = []
    system.ensure_programs({"devmatrix-fake-program": "devmatrix-fake-package"}, echo=said.append)
    assert said == ["installing devmatrix-fake-package (apt-get) …"]
    assert system.missing_programs({"devmatrix-fake-program": "devmatrix-fake-package"}) == {}
    assert apt_get.read_text().splitlines()[0] == "update -q"


def test_an_apt_get_install_that_fails_names_the_command_its_exit_code_and_its_error(apt_get):
    with pytest.raises(InstallError) as caught:
        system.ensure_programs({"devmatrix-no-such-program": "devmatrix-no-such-package"})
    assert caught.value.message == ("`apt-get install -y -q --no-install-recommends devmatrix-no-such-package`"
                                    " failed (100): E: Unable to locate package devmatrix-no-such-package")
    assert caught.value.fix == ("run it by hand to see why: apt-get update && apt-get install -y"
                                " --no-install-recommends devmatrix-no-such-package")


def test_an_apt_get_update_that_fails_stops_before_the_install(apt_get, monkeypatch):
    monkeypatch.setitem(system.APT_ENV, "APT_UPDATE_FAILS", "1")
    with pytest.raises(InstallError) as caught:
        system.ensure_programs({"devmatrix-fake-program": "devmatrix-fake-package"})
    assert caught.value.message == ("`apt-get update -q` failed (100):"
                                    " E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease")
    assert apt_get.read_text().splitlines() == ["update -q"]


def test_a_useradd_that_fails_is_an_install_error_with_its_reason_and_a_fix(tmp_path, monkeypatch):
    # a fake useradd first on PATH: the user database refuses (a group of that name exists already)
    fake = tmp_path / "useradd"
    fake.write_text("#!/bin/sh\necho \"useradd: group '$6' already exists\" >&2\nexit 9\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(system, "is_root", lambda: True)
    with pytest.raises(InstallError) as caught:
        system.ensure_system_user("dmx-never-created")
    assert "cannot create the system user 'dmx-never-created': useradd exited 9" in caught.value.message
    assert "already exists" in caught.value.message and "POSTGRES_SYSTEM_USER" in caught.value.fix
