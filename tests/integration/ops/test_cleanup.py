"""`invoke cleanup`: test data goes, everything else stays; `--dry` changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest
import redis
from _backup_stack import Stack

from devmatrix.backup.chroma import ChromaHTTP
from devmatrix.backup.cleanup import cleanup
from devmatrix.results import Status
from devmatrix.state.postgres import PostgresManager
from devmatrix.workspace import WorkspaceManager

pytestmark = pytest.mark.integration

TEST_WORKSPACES = ("test_cleanup", "test-cleanup", "devmatrix_test_cleanup")
KEPT_WORKSPACES = ("prod-ws", "testing-app", "my_test_project")


def _make_data(settings, suffix: str) -> None:
    pg = PostgresManager(settings=settings)
    try:
        for ws in (*TEST_WORKSPACES, *KEPT_WORKSPACES):
            pg.execute("INSERT INTO code_generation_logs (workspace_id, user_request) VALUES (%s, 'x')",
                       (f"{ws}{suffix}",))
        pg.execute("INSERT INTO code_generation_logs (workspace_id, metadata) VALUES (%s, '{\"test\": true}')",
                   (f"tagged{suffix}",))
    finally:
        pg.close()
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port,
                         password=settings.redis_password.get_secret_value() or None)
    try:
        client.set(f"test:cleanup{suffix}", "1")
        client.set(f"devmatrix:keep{suffix}", "1")
        client.set(f"testkey{suffix}", "1")
    finally:
        client.close()
    with ChromaHTTP(settings.chroma_url) as chroma:
        chroma.create(f"test_cleanup{suffix}", None, None)
        chroma.create(f"keep_cleanup{suffix}", None, None)
    with WorkspaceManager(f"test_cleanup{suffix}", settings=settings) as workspace:  # marked: DevMatrix's
        workspace.write_and_commit("app.py", "x = 1\n", "feat: app")
    (settings.workspace_dir / f"projectA{suffix}").mkdir(parents=True)  # not DevMatrix's: never touched
    (settings.workspace_dir / f"projectA{suffix}" / "main.py").write_text("x = 1\n")


def _state(settings, suffix: str) -> dict:
    pg = PostgresManager(settings=settings)
    try:
        rows = sorted(r["workspace_id"] for r in pg.execute(
            "SELECT workspace_id FROM code_generation_logs WHERE workspace_id LIKE %s", (f"%{suffix}",)))
    finally:
        pg.close()
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port, decode_responses=True,
                         password=settings.redis_password.get_secret_value() or None)
    try:
        keys = sorted(client.scan_iter(match=f"*{suffix}"))
    finally:
        client.close()
    with ChromaHTTP(settings.chroma_url) as chroma:
        collections = sorted(c["name"] for c in chroma.collections() if c["name"].endswith(suffix))
    entries = sorted(p.name for p in settings.workspace_dir.iterdir() if p.name.endswith(suffix))
    return {"rows": rows, "keys": keys, "collections": collections, "workspace": entries}


def _remove_data(settings, suffix: str) -> None:
    pg = PostgresManager(settings=settings)
    try:
        pg.execute("DELETE FROM code_generation_logs WHERE workspace_id LIKE %s", (f"%{suffix}",))
    finally:
        pg.close()
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port,
                         password=settings.redis_password.get_secret_value() or None)
    try:
        for key in client.scan_iter(match=f"*{suffix}"):
            client.delete(key)
    finally:
        client.close()
    with ChromaHTTP(settings.chroma_url) as chroma:
        for c in chroma.collections():
            if c["name"].endswith(suffix):
                chroma.delete(c["name"])
    for path in settings.workspace_dir.glob(f"*{suffix}"):
        shutil.rmtree(path)


def test_dry_run_on_the_shared_stack_lists_test_data_and_changes_nothing(settings, invoke_cli):
    suffix = f"_{uuid.uuid4().hex[:8]}"
    _make_data(settings, suffix)
    try:
        before = _state(settings, suffix)
        done = invoke_cli("cleanup", "--dry", "--json")
        assert done.returncode == 0, done.stderr
        items = {r["name"]: r["data"]["items"] for r in json.loads(done.stdout)["results"]}
        listed = " ".join(str(i) for values in items.values() for i in values)
        for ws in TEST_WORKSPACES:
            assert f"workspace {ws}{suffix}" in listed
        assert f"workspace tagged{suffix}" in listed
        assert f"test:cleanup{suffix}" in items["redis"]
        assert f"test_cleanup{suffix}" in items["chroma"]
        assert any(i.endswith(f"test_cleanup{suffix}") for i in items["workspace"])
        for kept in (*KEPT_WORKSPACES, "devmatrix:keep", "testkey", "keep_cleanup"):
            assert f"{kept}{suffix}" not in listed
        assert _state(settings, suffix) == before
    finally:
        _remove_data(settings, suffix)


def test_cleanup_removes_test_data_only_scope_by_scope(stack: Stack):
    s = stack.settings
    suffix = f"_{uuid.uuid4().hex[:8]}"
    _make_data(s, suffix)
    try:
        full = _state(s, suffix)
        results = cleanup(s, scopes=["redis"])
        assert [(r.name, r.status) for r in results] == [("redis", Status.PASS)]
        after_redis = _state(s, suffix)
        assert after_redis["keys"] == [f"devmatrix:keep{suffix}", f"testkey{suffix}"]
        assert {k: v for k, v in after_redis.items() if k != "keys"} == \
            {k: v for k, v in full.items() if k != "keys"}

        cleanup(s)
        assert _state(s, suffix) == {
            "rows": sorted(f"{ws}{suffix}" for ws in KEPT_WORKSPACES),
            "keys": [f"devmatrix:keep{suffix}", f"testkey{suffix}"],
            "collections": [f"keep_cleanup{suffix}"],
            "workspace": [f"projectA{suffix}"],
        }
        assert (s.workspace_dir / ".git").is_dir()  # the test workspace itself is kept
    finally:
        _remove_data(s, suffix)


def test_the_script_is_the_same_cleanup(stack: Stack):
    suffix = f"_{uuid.uuid4().hex[:8]}"
    _make_data(stack.settings, suffix)
    try:
        done = subprocess.run([sys.executable, "scripts/cleanup_test_data.py", "--redis", "--chroma"],
                              env={"DEVMATRIX_ENV_FILE": str(stack.env_file()), "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert f"removed 1 test keys (test:*): test:cleanup{suffix}" in done.stdout
        state = _state(stack.settings, suffix)
        assert f"test:cleanup{suffix}" not in state["keys"]
        assert state["collections"] == [f"keep_cleanup{suffix}"]
        assert len(state["rows"]) == len(TEST_WORKSPACES) + len(KEPT_WORKSPACES) + 1  # postgres not in scope
    finally:
        _remove_data(stack.settings, suffix)


def test_servers_this_stack_does_not_run_need_yes(stack: Stack, invoke_cli):
    """The same servers reached as `external`: DevMatrix cannot prove they are its own."""
    s = stack.settings.model_copy(update={"devmatrix_provider": "external"})
    suffix = f"_{uuid.uuid4().hex[:8]}"
    _make_data(s, suffix)
    try:
        full = _state(s, suffix)
        results = {r.name: r for r in cleanup(s, scopes=["redis", "chroma"])}
        assert results["redis"].status is Status.FAIL and results["chroma"].status is Status.FAIL
        assert results["redis"].detail.startswith(f"not removed: 1 test keys (test:*) (test:cleanup{suffix})")
        assert "DEVMATRIX_PROVIDER=external" in results["redis"].detail and "--yes" in results["redis"].detail
        assert _state(s, suffix) == full

        env_file = stack.env_file()
        env_file.write_text(env_file.read_text().replace("DEVMATRIX_PROVIDER='native'", "DEVMATRIX_PROVIDER=external"))
        done = invoke_cli("cleanup", "--redis", env={"DEVMATRIX_ENV_FILE": str(env_file)}, isolated=True)
        assert done.returncode == 1
        assert "cleanup refused for redis" in " ".join(done.stderr.split())
        assert _state(s, suffix) == full

        results = {r.name: r for r in cleanup(s, scopes=["redis", "chroma"], confirmed=True)}
        assert results["redis"].status is Status.PASS and results["chroma"].status is Status.PASS
        assert f"test:cleanup{suffix}" not in _state(s, suffix)["keys"]
    finally:
        _remove_data(s, suffix)
