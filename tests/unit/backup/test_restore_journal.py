"""The restore journal: durable, private, and a clear error when it cannot be read."""

from __future__ import annotations

import pytest

from devmatrix.backup import journal
from devmatrix.config import Settings
from devmatrix.errors import BackupError

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path / "state")


def test_a_recorded_journal_is_private_pending_and_refuses_a_new_restore(settings, tmp_path):
    record = journal.Journal(settings, tmp_path / "backup-1")
    record.record(phase=journal.SWAPPING, swapped=["postgres"])
    assert journal.journal_path(settings).stat().st_mode & 0o777 == 0o600
    state = journal.pending(settings)
    assert state["swapped"] == ["postgres"] and state["backup"] == str(tmp_path / "backup-1")
    with pytest.raises(BackupError, match="stopped while swapping \\(swapped: postgres\\)") as caught:
        journal.refuse_if_pending(settings)
    assert "invoke restore --recover" in caught.value.fix
    record.close()
    assert journal.pending(settings) is None
    journal.refuse_if_pending(settings)  # nothing left: a restore may start


def test_an_unreadable_journal_names_its_file_and_how_to_recover_by_hand(settings):
    path = journal.journal_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text('{"phase": "swapp')  # cut off mid-write by hand or a broken disk
    with pytest.raises(BackupError, match="the journal of an interrupted restore cannot be read") as caught:
        journal.pending(settings)
    assert str(path) in str(caught.value) and "pre_restore" in caught.value.fix and str(path) in caught.value.fix


def test_each_step_is_recorded_over_the_last_in_a_state_dir_that_exists(settings, tmp_path):
    settings.devmatrix_state_dir.mkdir()  # the stack's state dir is there before any restore
    record = journal.Journal(settings, tmp_path / "backup-1")
    record.record(phase=journal.STAGING)
    record.record(phase=journal.SWAPPING, swapped=["postgres"])
    record.record(swapped=["postgres", "redis"])
    state = journal.pending(settings)
    assert (state["phase"], state["swapped"]) == (journal.SWAPPING, ["postgres", "redis"])
    record.close()
