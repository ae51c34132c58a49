"""A rollback keeps its journal until every store is back: one undo that fails leaves the journal
for `invoke restore --recover`, and the other stores are still rolled back.

The failure is injected where the server would fail (a store's undo step raising ServiceError,
as a dead server does); the journal is the real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.backup import journal, restore
from devmatrix.config import Settings
from devmatrix.errors import ServiceError

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path / "state")


@pytest.fixture(autouse=True)
def _no_rollback_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "ROLLBACK_WAIT_S", 0.0)  # a failing undo fails at once, not after 60 s


def _swapped_transaction(settings: Settings, tmp_path: Path, swapped: list[str]):
    """The transaction of a restore that swapped ``swapped``, journaled on disk."""
    state = {"backup": str(tmp_path / "backup"), "pid": 1, "phase": journal.SWAPPING, "started_at": "t",
             "swapped": swapped,
             "redis": {"target": str(tmp_path / "dump.rdb"), "stopped": False, "swapped": False,
                       "had_previous": False},
             "chroma": {"token": "abcd", "staged": {}, "set_aside": {}, "swapped": []},
             "postgres": {"incoming": "devmatrix_restoring_ab", "old": "devmatrix_pre_restore_ab",
                          "live_existed": True}}
    tx = restore._Transaction.resume(settings, state, "native", echo=lambda _: None)
    tx._record()
    assert journal.pending(settings) is not None
    return tx


def _fail(store: str):
    def undo(*_args, **_kwargs) -> None:
        raise ServiceError(store, "server is down")
    return undo


def _ok(calls: list[str], store: str):
    def undo(*_args, **_kwargs) -> None:
        calls.append(store)
    return undo


def test_an_undo_that_fails_keeps_the_journal_and_the_others_still_roll_back(settings, tmp_path, monkeypatch):
    tx = _swapped_transaction(settings, tmp_path, ["postgres", "redis", "chroma"])
    calls: list[str] = []
    monkeypatch.setattr(restore.postgres, "swap_back", _fail("postgres"))
    monkeypatch.setattr(tx.redis, "swap_back", _ok(calls, "redis"))
    monkeypatch.setattr(tx.chroma, "swap_back", _ok(calls, "chroma"))
    done, failed = tx.swap_back()
    assert calls == ["chroma", "redis"]  # newest first, and on past the failure
    assert [d.split(" ")[0] for d in done] == ["chroma", "redis"]
    assert len(failed) == 1 and failed[0].startswith("postgres: ") and "devmatrix_pre_restore_ab" in failed[0]
    assert journal.pending(settings) is not None  # `--recover` can try again


def test_a_staged_copy_that_cannot_be_removed_keeps_the_journal(settings, tmp_path, monkeypatch):
    tx = _swapped_transaction(settings, tmp_path, ["postgres"])  # redis and chroma only staged
    calls: list[str] = []
    monkeypatch.setattr(restore.postgres, "swap_back", _ok(calls, "postgres"))
    monkeypatch.setattr(tx.redis, "swap_back", _ok(calls, "redis"))
    monkeypatch.setattr(tx.chroma, "swap_back", _fail("chroma"))
    done, failed = tx.swap_back()
    assert calls == ["redis", "postgres"] and [d.split(" ")[0] for d in done] == ["postgres"]
    assert failed == ["chroma: its staged copy was not removed (chroma: server is down)"]
    assert journal.pending(settings) is not None


def test_a_rollback_with_every_store_back_removes_the_journal(settings, tmp_path, monkeypatch):
    tx = _swapped_transaction(settings, tmp_path, ["postgres", "redis", "chroma"])
    calls: list[str] = []
    monkeypatch.setattr(restore.postgres, "swap_back", _ok(calls, "postgres"))
    monkeypatch.setattr(tx.redis, "swap_back", _ok(calls, "redis"))
    monkeypatch.setattr(tx.chroma, "swap_back", _ok(calls, "chroma"))
    done, failed = tx.swap_back()
    assert calls == ["chroma", "redis", "postgres"] and len(done) == 3 and failed == []
    assert journal.pending(settings) is None


def test_unstaging_keeps_the_journal_until_every_staged_copy_is_gone(settings, tmp_path, monkeypatch):
    tx = _swapped_transaction(settings, tmp_path, [])
    monkeypatch.setattr(tx, "_drop_incoming", _fail("postgres"))
    monkeypatch.setattr(tx.redis, "swap_back", lambda: None)
    monkeypatch.setattr(tx.chroma, "swap_back", lambda: None)
    assert tx.unstage() == ["postgres: staged copy not removed (postgres: server is down)"]
    assert journal.pending(settings) is not None
    monkeypatch.setattr(tx, "_drop_incoming", lambda: None)
    assert tx.unstage() == []
    assert journal.pending(settings) is None
