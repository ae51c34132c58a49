"""The restore's disk-space preflight: the staged copies of the stores on one filesystem must fit
there together, with the margin to spare; the message names the place, the sizes and the margin.
The free space is the injected part (the disk is not ours to fill in a unit test)."""

from __future__ import annotations

import pytest

from devmatrix.backup import restore

pytestmark = pytest.mark.unit
MARGIN = restore.DISK_MARGIN_BYTES


def _needs(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "redis").mkdir()
    return [restore._Need("postgres", tmp_path / "pg", 10_000_000),
            restore._Need("redis", tmp_path / "redis", 5_000_000)]


def test_copies_on_one_filesystem_that_fit_with_the_margin_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(restore, "free_bytes", lambda _path: 15_000_000 + MARGIN)  # exactly enough
    problems, notes = restore._disk_problems(_needs(tmp_path))
    assert problems == []
    assert notes == [f"disk: {tmp_path / 'pg'} 32 MB free for postgres 10.0 MB + redis 5.0 MB"]


def test_copies_that_together_leave_less_than_the_margin_are_refused_with_the_sizes(tmp_path, monkeypatch):
    needs = _needs(tmp_path)
    needs[1].bytes = 31_750_000 - 10_000_000 - MARGIN  # 31.75 MB wanted in all: the message rounds it to 31.8
    monkeypatch.setattr(restore, "free_bytes", lambda _path: 31_750_000 - 1)  # each alone would fit
    problems, _ = restore._disk_problems(needs)
    assert problems == [f"disk: {tmp_path / 'pg'} has 31.7 MB free, the restore needs 31.8 MB there"
                        " (postgres 10.0 MB + redis 5.0 MB + 16 MiB margin)"]


def test_a_place_not_on_this_machine_is_noted_not_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(restore, "free_bytes", lambda _path: 1 << 40)
    elsewhere = tmp_path / "on-another-host"
    problems, notes = restore._disk_problems([restore._Need("postgres", elsewhere, 1 << 50)])
    assert problems == []
    assert notes == [f"postgres: {elsewhere} is not on this machine; its free space was not checked"]
