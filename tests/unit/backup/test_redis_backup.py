"""Redis's part of a backup: a snapshot is the RDB saved after the backup began, copied and checked;
the key counts come from what redis-check-rdb reports, a damaged RDB is refused with the checker's own
last lines, and so is one a scratch server cannot load; what the live server is asked before a restore
(its RDB, its keys).

Neither is ours: the Redis server (live, or the scratch one on PATH) is the double of
tests/_fixtures/redis_double.py (its protocol, over TCP), and the redis-check-rdb on PATH replays
what redis-check-rdb 7.0.15 (Debian 12) printed for an RDB of 2 keys, 1 with an expiry, and for a
truncated one."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from _fixtures import redis_double
from _fixtures.redis_double import FakeRedis, serving
from devmatrix.backup import redis as redis_backup
from devmatrix.config import Settings
from devmatrix.errors import BackupError, ServiceError

pytestmark = pytest.mark.unit
GOOD = """[offset 0] Checking RDB file {path}
[offset 27] AUX FIELD redis-ver = '7.0.15'
[offset 41] AUX FIELD redis-bits = '64'
[offset 82] Selecting DB ID 0
[offset 113] Checksum OK
[offset 113] \\o/ RDB looks OK! \\o/
[info] 2 keys read
[info] 1 expires
[info] 0 already expired
"""
TRUNCATED = """[offset 0] Checking RDB file {path}
[offset 27] AUX FIELD redis-ver = '7.0.15'
--- RDB ERROR DETECTED ---
[offset 60] Unexpected EOF reading RDB file
[additional info] While doing: read-object-value
[info] 1 keys read
[info] 0 expires
[info] 0 already expired
"""


@pytest.fixture
def checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """install(output, code) puts a redis-check-rdb on PATH (and nothing else) that prints ``output``
    for tmp_path/dump.rdb and exits ``code`` (shell built-ins only)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))

    def install(output: str, code: int = 0) -> None:
        program = bin_dir / "redis-check-rdb"
        program.write_text("#!/bin/sh\n"
                           'if [ "$1" = --version ]; then echo "redis-check-rdb 7.0.15"; exit 0; fi\n'
                           f"printf '%s' {shlex.quote(output.format(path=tmp_path / 'dump.rdb'))}\nexit {code}\n")
        program.chmod(0o755)

    return install


def test_the_counts_are_what_redis_check_rdb_read_in_the_file(checker, tmp_path):
    checker(GOOD)
    assert redis_backup.check_rdb(tmp_path / "dump.rdb") == {"keys": 2, "expires": 1, "already_expired": 0}
    assert redis_backup.tool_version() == "7.0.15"  # recorded in the manifest's tools


def test_a_damaged_rdb_is_refused_with_the_checkers_last_lines(checker, tmp_path):
    checker(TRUNCATED, code=1)
    rdb = tmp_path / "dump.rdb"
    with pytest.raises(BackupError) as caught:
        redis_backup.check_rdb(rdb)
    assert caught.value.message == (f"redis-check-rdb rejects {rdb}:\n[offset 60] Unexpected EOF reading RDB file\n"
                                    "[additional info] While doing: read-object-value\n[info] 1 keys read\n"
                                    "[info] 0 expires\n[info] 0 already expired")  # its last 5 lines
    assert caught.value.fix == "the RDB is damaged; take a new backup or use another one"


def test_an_output_without_its_ok_line_is_refused_whatever_the_exit_code(checker, tmp_path):
    checker(GOOD.replace("RDB looks OK!", "RDB looks odd"))
    with pytest.raises(BackupError, match="redis-check-rdb rejects"):
        redis_backup.check_rdb(tmp_path / "dump.rdb")


def test_without_redis_check_rdb_the_error_says_how_to_install_it(checker, tmp_path):
    with pytest.raises(BackupError, match="redis-check-rdb is not installed") as caught:
        redis_backup.check_rdb(tmp_path / "dump.rdb")
    assert caught.value.fix == "apt-get install redis-server (it ships redis-check-rdb)"


@pytest.fixture
def redis_server(tmp_path: Path):
    """(the double, Settings pointing at it); the server keeps its RDB in tmp_path/redis-data."""
    (tmp_path / "redis-data").mkdir()
    fake = FakeRedis(tmp_path / "redis-data")
    with serving(fake) as port:
        yield fake, Settings(redis_host="127.0.0.1", redis_port=port)


def test_a_snapshot_is_the_rdb_saved_after_the_backup_began_checked(redis_server, checker, tmp_path):
    fake, settings = redis_server
    (fake.dir / "dump.rdb").write_bytes(b"REDIS0010 an older save")
    checker(GOOD)
    dest = tmp_path / "dump.rdb"
    found = redis_backup.snapshot(settings, dest)
    assert dest.read_bytes() == b"REDIS0010 the saved dataset"  # the new save, not the file that was there
    assert found == {"server": "7.0.15", "rdb_source": str(fake.dir / "dump.rdb"), "keys": 2, "expires": 1,
                     "already_expired": 0}
    assert fake.commands.count("BGSAVE") == 1


def test_a_bgsave_that_fails_is_said_at_once_not_after_the_300_s_wait(redis_server, tmp_path):
    # a failed save leaves LASTSAVE where it was and sets rdb_last_bgsave_status:err
    fake, settings = redis_server
    fake.bgsave_ok = False
    started = time.monotonic()
    with pytest.raises(BackupError) as caught:
        redis_backup.snapshot(settings, tmp_path / "dump.rdb")
    assert caught.value.message == "Redis BGSAVE failed (rdb_last_bgsave_status=err)"
    assert "invoke infra.logs redis" in caught.value.fix
    assert time.monotonic() - started < 30  # not BGSAVE_TIMEOUT_S (300 s); the double's save takes a few polls


def test_a_dump_on_another_machine_is_refused_with_where_to_run_the_backup(redis_server, checker, tmp_path):
    fake, settings = redis_server
    fake.dir = tmp_path / "elsewhere"  # the server's dir is not on this machine

    def saved_elsewhere() -> None:  # the save succeeds, on the server's machine
        fake.lastsave = int(time.time())

    fake._finish_bgsave = saved_elsewhere
    with pytest.raises(BackupError) as caught:
        redis_backup.snapshot(settings, tmp_path / "dump.rdb")
    assert caught.value.message == f"the Redis dump {fake.dir / 'dump.rdb'} is not on this machine"
    assert caught.value.fix == "run the backup on the machine where Redis keeps its data"


def test_before_a_restore_the_live_server_names_its_rdb_and_its_keys(redis_server):
    fake, settings = redis_server
    fake.keyspace = {"db0": (3, 1), "db1": (1, 0)}
    assert redis_backup.rdb_path(settings) == fake.dir / "dump.rdb"
    assert redis_backup.keyspace(settings) == {"db0": 3, "db1": 1}


def test_a_live_server_that_does_not_answer_is_a_redis_error_naming_it(closed_port):
    settings = Settings(redis_host="127.0.0.1", redis_port=closed_port)
    with pytest.raises(ServiceError) as caught:
        redis_backup.rdb_path(settings)
    assert caught.value.service == "redis"
    assert caught.value.message.startswith(f"redis: 127.0.0.1:{closed_port} does not answer")
    assert caught.value.fix == "`invoke infra.up -s redis` before restoring"


@pytest.fixture
def scratch_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The redis-server on PATH (the only program there) is the double."""
    bin_dir = tmp_path / "scratch-bin"
    bin_dir.mkdir()
    program = bin_dir / "redis-server"
    tests_dir = Path(redis_double.__file__).parents[1]  # the double imports _fixtures.http_server
    program.write_text(f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(tests_dir))} exec {shlex.quote(sys.executable)}'
                       ' -m _fixtures.redis_double "$@"\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_a_scratch_server_loads_the_rdb_and_counts_its_keys_per_database(scratch_redis, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_text(json.dumps({"db0": [3, 1], "db2": [1, 0]}))
    assert redis_backup.load_count(rdb) == {"db0": 3, "db2": 1}


def test_an_rdb_the_scratch_server_cannot_load_is_refused_with_the_servers_log(scratch_redis, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(b"REDIS0099 from a newer Redis")
    with pytest.raises(BackupError) as caught:
        redis_backup.load_count(rdb)
    assert caught.value.message.startswith("a scratch redis-server could not load the RDB:\n# Wrong signature trying"
                                           " to load DB from file ")
    assert caught.value.fix == "the RDB is damaged or from a newer Redis; use another backup"
