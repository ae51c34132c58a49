"""`invoke restore --recover` after a restore was killed: from the journal alone, every store is
put back as it was (or, when all three were swapped, the old copies are deleted), and the journal
goes only when that is done.

Chroma is the server double of conftest, Redis's RDB files are real files, the supervisor is a
recording provider; Postgres's steps are replaced where they would talk to the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.backup import chroma, journal, recover_restore, restore
from devmatrix.config import Settings
from devmatrix.errors import BackupError, ServiceError
from devmatrix.results import CheckResult, Status

pytestmark = pytest.mark.unit
INCOMING, OLD = "devmatrix_restoring_1a2b3c4d", "devmatrix_pre_restore_1a2b3c4d"


@pytest.fixture(autouse=True)
def _no_rollback_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "ROLLBACK_WAIT_S", 0.0)


@pytest.fixture
def settings(tmp_path: Path, chroma_server) -> Settings:
    host, port = chroma_server.url.removeprefix("http://").split(":")
    return Settings(devmatrix_state_dir=tmp_path / "state", chromadb_host=host, chromadb_port=int(port))


@pytest.fixture
def postgres_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """What the restore asked of the Postgres server."""
    calls: list[tuple] = []
    monkeypatch.setattr(restore.postgres, "swap_back", lambda _settings, incoming, old, *, live_existed:
                        calls.append(("swap_back", incoming, old, live_existed)))
    monkeypatch.setattr(restore.postgres, "drop_database", lambda _settings, name: calls.append(("drop", name)))
    return calls


def _server_down(store: str):
    def step(*_args, **_kwargs) -> None:
        raise ServiceError(store, "server is down")
    return step


def _journal(settings: Settings, tmp_path: Path, phase: str, swapped: list[str], *, redis: dict,
             chroma_state: dict, live_existed: bool = True) -> None:
    record = journal.Journal(settings, tmp_path / "devmatrix-backup-1")
    record.record(phase=phase, swapped=swapped, redis={"target": str(tmp_path / "dump.rdb"), **redis},
                  chroma=chroma_state, postgres={"incoming": INCOMING, "old": OLD, "live_existed": live_existed})


def test_with_no_journal_there_is_nothing_to_recover(settings, native_provider):
    (result,) = restore.recover(settings, native_provider)
    assert (result.name, result.status, result.detail) == ("recover", Status.PASS,
                                                           "no interrupted restore: nothing to do")
    assert native_provider.calls == []


def test_a_restore_killed_while_swapping_is_rolled_back_store_by_store(settings, tmp_path, chroma_server,
                                                                         native_provider, postgres_calls):
    (tmp_path / "dump.rdb").write_bytes(b"the backup's RDB")  # Redis was restarted on the backup's RDB
    (tmp_path / "dump.rdb.pre-restore").write_bytes(b"the live RDB")
    chroma_server.create("devmatrix-restoring-abcd-docs")  # staged, not yet swapped in
    chroma_server.create("docs")  # the live collection
    _journal(settings, tmp_path, journal.SWAPPING, ["postgres", "redis"],
             redis={"stopped": True, "swapped": True, "had_previous": True},
             chroma_state={"token": "abcd", "staged": {"docs": "devmatrix-restoring-abcd-docs"}, "set_aside": {},
                           "swapped": []},
             live_existed=False)
    (result,) = restore.recover(settings, native_provider)
    assert postgres_calls == [("swap_back", INCOMING, OLD, False)]  # the journaled names, not new ones
    assert (tmp_path / "dump.rdb").read_bytes() == b"the live RDB"
    assert not (tmp_path / "dump.rdb.pre-restore").exists()
    assert native_provider.calls == [("down", ("redis",)), ("up", ("redis",))]
    assert chroma_server.names() == ["docs"]
    assert result.status is Status.PASS
    assert result.detail.startswith(f"a restore from {tmp_path / 'devmatrix-backup-1'} (pid ")
    assert "stopped while swapping (swapped: postgres, redis); rolled back: redis (" in result.detail
    assert result.detail.endswith("every store is as it was before that restore")
    assert journal.pending(settings) is None


def test_a_restore_killed_while_deleting_the_old_copies_is_finished(settings, tmp_path, chroma_server,
                                                                      native_provider, postgres_calls):
    (tmp_path / "dump.rdb").write_bytes(b"the backup's RDB")
    (tmp_path / "dump.rdb.pre-restore").write_bytes(b"the live RDB")
    chroma_server.create("docs", [{"id": "a", "document": "restored", "metadata": None, "embedding": None}])
    chroma_server.create("devmatrix-pre-restore-abcd-docs")
    _journal(settings, tmp_path, journal.COMMITTING, ["postgres", "redis", "chroma"],
             redis={"stopped": False, "swapped": True, "had_previous": True},
             chroma_state={"token": "abcd", "staged": {"docs": "devmatrix-restoring-abcd-docs"},
                           "set_aside": {"docs": "devmatrix-pre-restore-abcd-docs"}, "swapped": ["docs"]})
    results = restore.recover(settings, native_provider)
    assert [(r.name, r.status) for r in results] == [("recover", Status.PASS)]
    assert "the old copies are deleted, the restore is complete" in results[0].detail
    assert postgres_calls == [("drop", OLD)]  # the backup's database stays: only the old one goes
    assert (tmp_path / "dump.rdb").read_bytes() == b"the backup's RDB"
    assert not (tmp_path / "dump.rdb.pre-restore").exists()
    assert native_provider.calls == []  # nothing to restart
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs")[0]["document"] == "restored"
    assert journal.pending(settings) is None


def test_old_copies_that_cannot_be_deleted_are_named_and_the_restore_still_counts_as_done(
        settings, tmp_path, native_provider, monkeypatch):
    monkeypatch.setattr(restore.postgres, "drop_database", _server_down("postgres"))
    _journal(settings, tmp_path, journal.COMMITTING, ["postgres", "redis", "chroma"],
             redis={"stopped": False, "swapped": True, "had_previous": False},
             chroma_state={"token": "abcd", "staged": {}, "set_aside": {}, "swapped": []})
    results = restore.recover(settings, native_provider)
    assert [(r.name, r.status, r.critical) for r in results] == [("recover", Status.PASS, True),
                                                                 ("cleanup", Status.FAIL, False)]
    assert results[1].detail == "postgres: the pre-restore copy was not deleted (postgres: server is down)"
    assert journal.pending(settings) is None


def test_a_rollback_that_fails_keeps_the_journal_and_says_what_to_do(settings, tmp_path, native_provider,
                                                                     monkeypatch):
    monkeypatch.setattr(restore.postgres, "swap_back", _server_down("postgres"))
    _journal(settings, tmp_path, journal.SWAPPING, ["postgres"],
             redis={"stopped": False, "swapped": False, "had_previous": False},
             chroma_state={"token": "abcd", "staged": {}, "set_aside": {}, "swapped": []})
    with pytest.raises(BackupError) as caught:
        restore.recover(settings, native_provider)
    assert "Rolled back: nothing. COULD NOT roll back: postgres: " in caught.value.message
    assert f"the old database is {OLD!r}" in caught.value.message
    assert "run `invoke restore --recover` again" in caught.value.fix
    assert journal.pending(settings)["phase"] == journal.SWAPPING  # the next --recover starts from here


def test_the_journal_of_a_new_restore_names_what_the_recovery_hint_tells_the_user_to_look_for(
        settings, tmp_path, native_provider):
    tx = restore._Transaction(settings, native_provider, lambda _: None, tmp_path / "backup",
                              {"redis": {"file": "redis/dump.rdb"}, "chroma": {"collections": {}}},
                              redis_target=tmp_path / "dump.rdb")
    tx._record(journal.STAGING)
    tx._record()  # a step within the phase (a name noted before the server is asked) keeps the phase
    state = journal.pending(settings)
    assert journal.describe(state).endswith("stopped while staging (no store swapped yet)")
    assert state["backup"] == str(tmp_path / "backup") and state["phase"] == journal.STAGING
    db = settings.postgres_db
    assert state["postgres"]["old"].startswith(f"{db}_pre_restore_")  # `<db>_pre_restore_<hex>` in the fix
    assert state["postgres"]["incoming"].startswith(f"{db}_restoring_")
    assert state["postgres"]["live_existed"] is True
    assert state["redis"] == {"target": str(tmp_path / "dump.rdb"), "stopped": False, "swapped": False,
                              "had_previous": False}
    assert state["chroma"] == {"token": tx.chroma.token, "staged": {}, "set_aside": {}, "swapped": []}
    assert state["swapped"] == []
    assert chroma.SET_ASIDE.format(token=tx.chroma.token, name="x").startswith("devmatrix-pre-restore-")


def test_recover_then_runs_the_validation_it_is_given_named_as_such(settings, native_provider):
    said: list[str] = []
    results = recover_restore(settings, provider=native_provider, echo=said.append, then=lambda _settings: [
        CheckResult("redis", Status.FAIL, "connection refused", critical=False, seconds=1.5)])
    assert [(r.name, r.status, r.detail, r.critical, r.seconds) for r in results] == [
        ("recover", Status.PASS, "no interrupted restore: nothing to do", True, 0.0),
        ("validate: redis", Status.FAIL, "connection refused", False, 1.5)]
    assert said == ["validate …"]
