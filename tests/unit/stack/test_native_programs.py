"""What the native provider's programs need before they start: the system programs they run are
checked (and installed) first, the Postgres server binary exists, and each prepare step writes what
its program reads (an exporter's secrets file, Prometheus' config)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devmatrix.config import Settings
from devmatrix.jobs.app import broker_url
from devmatrix.stack.catalog import NativeService, native_services, postgres_bin_dir

pytestmark = pytest.mark.unit

SECRET = "p@ss:w/rd?'x"  # pragma: allowlist secret - what a URL or shell would mangle


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local", postgres_password=SECRET,
                    redis_password=SECRET, api_port=18000)


@pytest.fixture
def catalog(settings: Settings, tmp_path: Path) -> dict[str, NativeService]:
    return native_services(settings, env_file=tmp_path / ".env.test", user=None)


def _executable(command: list[str]) -> str:
    """What a command runs: the program after `sh -c SCRIPT ENV_FILE` for one started with a secrets file."""
    return command[4] if command[:2] == ["/bin/sh", "-c"] else command[0]


def test_every_system_program_a_service_runs_is_checked_before_it_starts(catalog):
    ours = (Path(sys.executable).parent, postgres_bin_dir())  # this environment's and the embedded Postgres
    for name, service in catalog.items():
        executable = Path(_executable(service.program.command))
        if executable.parent in ours or str(executable) == sys.executable:
            continue
        assert executable.name in service.system_programs, name  # else a fresh machine fails to start it


def test_postgres_runs_the_embedded_server_binary(catalog):
    binary = Path(catalog["postgres"].program.command[0])
    assert binary == postgres_bin_dir() / "postgres" and binary.is_file()


@pytest.mark.parametrize(("name", "variable", "value"), [
    ("postgres-exporter", "DATA_SOURCE_PASS", lambda settings: SECRET),
    ("redis-exporter", "REDIS_PASSWORD", lambda settings: SECRET),
    ("flower", "CELERY_BROKER_URL", broker_url),  # the password in it, URL-encoded
], ids=["postgres-exporter", "redis-exporter", "flower"])
def test_a_program_started_with_a_secrets_file_reads_the_value_its_prepare_step_wrote(settings, catalog, name,
                                                                                       variable, value):
    service = catalog[name]
    command = service.program.command
    assert service.prepare is not None, name
    service.prepare()
    env_file = Path(command[3])
    assert env_file.stat().st_mode & 0o777 == 0o600
    # the program's own command line, with the program swapped for one that prints the variable
    shown = subprocess.run([*command[:4], "/bin/sh", "-c", f'printf %s "${variable}"'],
                           capture_output=True, text=True, check=True).stdout
    assert shown == value(settings)
    assert SECRET not in " ".join(command)


def test_prometheus_prepare_writes_the_config_its_command_names_with_the_stacks_targets(catalog):
    service = catalog["prometheus"]
    (config,) = [a.split("=", 1)[1] for a in service.program.command if a.startswith("--config.file=")]
    assert service.prepare is not None
    service.prepare()
    text = Path(config).read_text()
    assert "127.0.0.1:18000" in text  # the API's port of these settings


# each Debian monitoring program asked for its version after the flags it is started with: it parses
# them first, and an unknown or misspelt flag is an error (a server that would not start)
VERSION_FLAG = {"prometheus": "--version", "postgres-exporter": "--version", "pushgateway": "--version",
                "redis-exporter": "-version"}


@pytest.mark.parametrize("name", VERSION_FLAG)
def test_each_debian_monitoring_program_accepts_the_command_line_it_is_started_with(catalog, name):
    command = catalog[name].program.command
    command = command[4:] if command[:2] == ["/bin/sh", "-c"] else command  # its variables do not matter here
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (`invoke infra.up` installs it)")
    result = subprocess.run([*command, VERSION_FLAG[name]], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
