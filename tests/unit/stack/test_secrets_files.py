"""Secrets of the native services: files 0600 in a 0700 folder, values that survive any character."""

from __future__ import annotations

import grp
import os
import subprocess

import pytest

from devmatrix.config import Settings
from devmatrix.stack._secrets import (
    exec_with_env_file,
    make_state_private,
    redis_config,
    shell_env,
    write_private,
)
from devmatrix.stack.catalog import native_services

pytestmark = pytest.mark.unit

NASTY = "p\"a'ss w$rd\\x%\t,=;"


def test_a_shell_env_file_gives_back_every_character(tmp_path):
    env = tmp_path / "secrets" / "x.env"
    write_private(env, shell_env({"DATA_SOURCE_PASS": NASTY}))
    assert env.stat().st_mode & 0o777 == 0o600 and env.parent.stat().st_mode & 0o777 == 0o700
    command = exec_with_env_file(env, ["/bin/sh", "-c", 'printf %s "$DATA_SOURCE_PASS"'])
    assert NASTY not in " ".join(command)  # the command line names the file only
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout == NASTY


def test_the_redis_config_quotes_the_password_as_redis_reads_it():
    assert redis_config('a"b\\c') == 'requirepass "a\\"b\\\\c"\n'
    assert not redis_config("").startswith("requirepass")


def test_no_secret_on_any_native_command_line_or_supervisor_environment(tmp_path):
    settings = Settings(devmatrix_state_dir=tmp_path / "state", redis_password=NASTY, postgres_password=NASTY,
                        llm_backend="local")
    for name, service in native_services(settings, env_file=tmp_path / ".env.test", user=None).items():
        text = " ".join(service.program.command) + " " + " ".join(service.program.environment.values())
        assert NASTY not in text, name
        assert "requirepass" not in text, name


def test_the_state_dir_becomes_private(tmp_path):
    state = tmp_path / "state"
    (state / "data" / "redis").mkdir(parents=True)
    (state / "data" / "redis" / "dump.rdb").write_bytes(b"x")
    (state / "data" / "redis" / "dump.rdb").chmod(0o644)
    (state / "services.json").write_text("{}")
    state.chmod(0o755)
    make_state_private(state, traverse_group=None)
    found = [p for p in (state, *state.rglob("*")) if p.stat().st_mode & 0o077]
    assert found == []


def test_the_tests_scratch_stacks_inside_keep_their_modes(tmp_path):
    """.devmatrix/test-*: the integration tests' scratch stacks, whose own Postgres user must pass
    through them while they run beside tests that bring this stack up."""
    state = tmp_path / "state"
    for name in ("test-backup", "test-heal", "logs"):
        (state / name).mkdir(parents=True)
        (state / name).chmod(0o755)
    make_state_private(state, traverse_group=None)
    modes = {p.name: p.stat().st_mode & 0o777 for p in state.iterdir() if p.name != "data"}
    assert modes == {"test-backup": 0o755, "test-heal": 0o755, "logs": 0o700}


def test_private_keeps_the_owners_bits_exactly_and_adds_none(tmp_path):
    state = tmp_path / "state"
    (state / "bin").mkdir(parents=True)
    (state / "bin" / "run.sh").write_text("#!/bin/sh\n")
    (state / "bin" / "run.sh").chmod(0o755)
    (state / "notes.txt").write_text("x")
    (state / "notes.txt").chmod(0o444)
    (state / "own.key").write_text("k")
    (state / "own.key").chmod(0o600)
    make_state_private(state, traverse_group=None)
    modes = {p.name: p.stat().st_mode & 0o7777 for p in (state, *state.rglob("*"))}
    assert modes == {"state": 0o700, "data": 0o700, "bin": 0o700, "run.sh": 0o700, "notes.txt": 0o400,
                     "own.key": 0o600}


def test_with_a_traverse_group_the_state_dir_and_data_can_be_entered_but_not_listed_by_it(tmp_path):
    """Postgres runs as its own system user when we are root: its group passes through the state
    dir and data/ to reach its data directory; everything else stays this user's."""
    # a group the files are not in yet (root may give any; another user only its own)
    group = grp.getgrnam("nogroup") if os.geteuid() == 0 else grp.getgrgid(os.getgid())
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    make_state_private(state, traverse_group=group.gr_name)
    for directory in (state, state / "data"):
        assert directory.stat().st_mode & 0o777 == 0o710 and directory.stat().st_gid == group.gr_gid
    assert (state / "logs").stat().st_mode & 0o777 == 0o700
