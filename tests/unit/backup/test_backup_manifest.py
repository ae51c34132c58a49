"""The backup manifest: checksums that name the damaged file, retention, `latest`, comparisons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devmatrix.backup import _compare, chroma, manifest
from devmatrix.errors import BackupError

pytestmark = pytest.mark.unit


def make_backup(root: Path, name: str, files: dict[str, bytes] | None = None) -> Path:
    folder = root / name
    for rel, data in (files or {"postgres/db.dump": b"dump bytes", "redis/dump.rdb": b"REDIS0010"}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    body = {"format": manifest.FORMAT, "created_at": "2026-01-01T00:00:00+00:00", "tools": {}, "servers": {},
            "postgres": {"file": "postgres/db.dump"}, "redis": {"file": "redis/dump.rdb"},
            "chroma": {"collections": {}}, "files": manifest.describe_files(folder)}
    manifest.write_manifest(folder, body)
    return folder


def test_a_fresh_backup_matches_its_manifest(tmp_path):
    folder = make_backup(tmp_path, "b")
    body = manifest.read_manifest(folder)
    assert set(body["files"]) == {"postgres/db.dump", "redis/dump.rdb"}
    assert body["files"]["redis/dump.rdb"]["bytes"] == 9
    manifest.check_integrity(folder, body)


def test_a_flipped_byte_is_named_with_its_path(tmp_path):
    folder = make_backup(tmp_path, "b")
    dump = folder / "postgres/db.dump"
    data = bytearray(dump.read_bytes())
    data[3] ^= 0x01
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupError) as caught:
        manifest.check_integrity(folder, manifest.read_manifest(folder))
    message = str(caught.value)
    assert f"{dump}: sha256" in message
    assert "redis/dump.rdb" not in message  # only the damaged file is named
    assert "fix:" in message


def test_every_stores_file_must_be_in_the_manifests_list(tmp_path):
    """A manifest whose list lost a store's file (with the file gone too) is refused, for every store."""
    folder = make_backup(tmp_path, "b")
    body = manifest.read_manifest(folder)
    body["chroma"]["collections"] = {"examples": {"count": 1}}
    del body["files"]["redis/dump.rdb"]
    (folder / "redis/dump.rdb").unlink()
    body["postgres"] = {}
    assert manifest.store_file_problems(folder, body) == [
        f"{folder}/manifest.json: the postgres section names no file",
        f"{folder}/manifest.json: redis file redis/dump.rdb is not in the manifest's file list",
        f"{folder}/manifest.json: chroma file chroma/examples.jsonl.gz is not in the manifest's file list",
    ]
    with pytest.raises(BackupError, match=r"redis file redis/dump\.rdb is not in the manifest.s file list"):
        manifest.check_integrity(folder, body)


def test_stale_partials_are_the_unfinished_backups_only(tmp_path):
    done = make_backup(tmp_path, manifest.new_name())
    stale = tmp_path / (manifest.new_name() + manifest.PARTIAL)
    stale.mkdir()
    (tmp_path / "notes.partial").mkdir()  # not ours: never touched
    assert manifest.stale_partials(tmp_path) == [stale]
    assert manifest.complete_backups(tmp_path) == [done]


def test_missing_resized_and_unlisted_files_are_all_reported(tmp_path):
    folder = make_backup(tmp_path, "b")
    (folder / "redis/dump.rdb").unlink()
    (folder / "postgres/db.dump").write_bytes(b"longer than before")
    (folder / "stray.txt").write_text("?")
    problems = manifest.integrity_problems(folder, manifest.read_manifest(folder))
    assert problems == [
        f"{folder}/postgres/db.dump: 18 bytes, the manifest says 10",
        f"{folder}/redis/dump.rdb: listed in the manifest but missing",
        f"{folder}/stray.txt: not listed in the manifest",
    ]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "manifest.json is missing"),
    ("{not json", "is not valid JSON"),
    (json.dumps({"format": 1}), "lacks created_at"),
    (json.dumps({k: {} for k in manifest.REQUIRED_KEYS} | {"format": 99}), "has format 99"),
])
def test_a_bad_manifest_is_refused_naming_it(tmp_path, content, expected):
    folder = tmp_path / "b"
    folder.mkdir()
    if content is not None:
        (folder / manifest.MANIFEST).write_text(content)
    with pytest.raises(BackupError, match=expected):
        manifest.read_manifest(folder)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError, match="does not exist"):
        manifest.read_manifest(tmp_path / "nope")


def test_names_sort_by_time_and_differ_within_a_second():
    now = datetime(2026, 11, 25, 3, 15, 0, 123456, tzinfo=UTC)
    names = [manifest.new_name(now + timedelta(milliseconds=ms)) for ms in (0, 1, 999, 1000)]
    assert names == sorted(names) and len(set(names)) == 4
    assert names[0] == "devmatrix-backup-20261125T031500123Z"


def test_retention_keeps_the_newest_complete_backups_only(tmp_path):
    names = [manifest.new_name(datetime(2026, 1, d, tzinfo=UTC)) for d in range(1, 6)]
    for name in names:
        make_backup(tmp_path, name)
    partial = tmp_path / (manifest.new_name(datetime(2025, 1, 1, tzinfo=UTC)) + manifest.PARTIAL)
    partial.mkdir()
    other = tmp_path / "my-notes"
    other.mkdir()
    removed = manifest.apply_retention(tmp_path, keep=2)
    assert [p.name for p in removed] == names[:3]
    assert [p.name for p in manifest.complete_backups(tmp_path)] == names[3:]
    assert partial.exists() and other.exists()  # never ours to delete
    with pytest.raises(BackupError, match="would delete every backup"):
        manifest.apply_retention(tmp_path, keep=0)


def test_latest_resolves_to_the_newest_complete_backup(tmp_path):
    with pytest.raises(BackupError, match="no complete backup"):
        manifest.resolve("latest", tmp_path)
    old = make_backup(tmp_path, manifest.new_name(datetime(2026, 1, 1, tzinfo=UTC)))
    new = make_backup(tmp_path, manifest.new_name(datetime(2026, 2, 1, tzinfo=UTC)))
    (tmp_path / (manifest.new_name(datetime(2026, 3, 1, tzinfo=UTC)) + manifest.PARTIAL)).mkdir()
    assert manifest.resolve("latest", tmp_path) == new
    assert manifest.resolve(str(old), tmp_path) == old


def test_chroma_digest_ignores_order_but_not_content():
    records = [{"id": "b", "document": "y", "metadata": {"k": 1}, "embedding": [0.0]},
               {"id": "a", "document": "x", "metadata": None, "embedding": [1.0]}]
    assert chroma.content_digest(records) == chroma.content_digest(list(reversed(records)))
    changed = [dict(records[0], metadata={"k": 2}), records[1]]
    assert chroma.content_digest(changed) != chroma.content_digest(records)


def test_chroma_compare_allows_renormalisation_noise_only():
    expected = [{"id": "a", "document": "x", "metadata": None, "embedding": [0.6, 0.8]}]
    assert chroma.compare("c", expected, [dict(expected[0], embedding=[0.6 + 1e-7, 0.8])]) == []
    problems = chroma.compare("c", expected, [dict(expected[0], embedding=[0.61, 0.8])])
    assert problems and "embeddings differ" in problems[0]
    assert chroma.compare("c", expected, []) == ["collection c: 0 records, expected 1",
                                                  "collection c: ids, documents or metadatas differ from the backup"]


def test_table_comparison_names_the_table_and_both_counts():
    want = {"public.t": {"rows": 3, "md5": "aaaaaaaa11"}, "public.gone": {"rows": 1, "md5": "b"}}
    got = {"public.t": {"rows": 2, "md5": "cccccccc22"}, "public.new": {"rows": 0, "md5": ""}}
    assert _compare.tables_problems(want, got) == [
        "table public.gone: missing after restore",
        "table public.new: not in the backup",
        "table public.t: 2 rows (md5 cccccccc), the backup has 3 (md5 aaaaaaaa)",
    ]


@pytest.mark.parametrize(("loaded", "ok"), [(10, True), (7, True), (6, False), (11, False)])
def test_redis_counts_allow_only_keys_that_expired_since(loaded, ok):
    problems = _compare.redis_counts_problems({"keys": 10, "expires": 3}, {"db0": loaded})
    assert (problems == []) is ok


def test_restore_checks_the_checksums_before_asking_for_confirmation(tmp_path):
    from devmatrix.backup import restore_backup
    from devmatrix.config import Settings

    folder = make_backup(tmp_path, "b")
    (folder / "redis/dump.rdb").write_bytes(b"REDIS0011")  # damaged after the backup
    asked: list[str] = []
    with pytest.raises(BackupError, match=r"redis/dump\.rdb"):
        restore_backup(Settings(), folder, confirm=lambda plan: asked.append(plan) or False)
    assert asked == []  # nobody is asked to confirm a restore from a damaged backup


def test_restore_asks_for_confirmation_of_an_intact_backup_and_refuses_a_no(tmp_path):
    from devmatrix.backup import restore_backup
    from devmatrix.config import Settings
    from devmatrix.errors import ConfirmationRequired

    folder = make_backup(tmp_path, "b")
    body = manifest.read_manifest(folder)
    body["postgres"]["tables"], body["redis"]["keys"] = {}, 0  # what the plan names
    manifest.write_manifest(folder, body)
    asked: list[str] = []
    with pytest.raises(ConfirmationRequired):
        restore_backup(Settings(), folder, confirm=lambda plan: asked.append(plan) or False)
    assert len(asked) == 1 and "with backup b of 2026-01-01" in asked[0]
