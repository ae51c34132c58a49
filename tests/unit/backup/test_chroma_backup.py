"""Chroma's part of a backup against a server double (the real server is the integration tier's):
what an export holds, that a collection changing under it is refused, the import in the server's
batch size, and the restore's reversible swap of every collection."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from devmatrix.backup import chroma
from devmatrix.errors import BackupError

pytestmark = pytest.mark.unit


def _record(i: int, dims: int = 2) -> dict:
    return {"id": f"r{i:03d}", "document": f"doc {i}", "metadata": {"n": i}, "embedding": [float(i)] * dims}


def test_an_export_holds_every_record_of_every_collection_and_the_manifest_section_describes_it(
        chroma_server, tmp_path):
    chroma_server.max_batch = 7
    examples = [_record(i, dims=3) for i in range(2500)]  # more than one page of chroma.PAGE
    chroma_server.create("examples", examples, metadata={"hnsw:space": "cosine"})
    chroma_server.create("empty")
    section = chroma.export(chroma_server.url, tmp_path / "chroma")
    assert section["server"] == chroma_server.version
    assert section["collections"] == {
        "empty": {"count": 0, "dimension": None, "content_sha256": chroma.content_digest([]), "metadata": None},
        "examples": {"count": 2500, "dimension": 3, "content_sha256": chroma.content_digest(examples),
                     "metadata": {"hnsw:space": "cosine"}},
    }
    header, records = chroma.read_export(tmp_path / "chroma" / "examples.jsonl.gz")
    assert header == {"name": "examples", "metadata": {"hnsw:space": "cosine"}, "configuration": None,
                      "count": 2500}
    assert records == examples


def test_a_collection_that_keeps_changing_while_exported_fails_the_backup(chroma_server, tmp_path):
    chroma_server.create("busy", [_record(0), _record(1)])
    chroma_server.on_get = lambda collection: collection["records"].append(_record(len(collection["records"])))
    with pytest.raises(BackupError, match="'busy' kept changing while it was exported") as caught:
        chroma.export(chroma_server.url, tmp_path / "chroma")
    assert "stop what writes to it" in caught.value.fix


def test_a_collection_written_once_during_the_export_is_read_again_whole(chroma_server, tmp_path):
    chroma_server.create("docs", [_record(0), _record(1)])
    writes = iter([_record(2)])

    def one_write(collection: dict) -> None:
        collection["records"].extend(writes)

    chroma_server.on_get = one_write
    section = chroma.export(chroma_server.url, tmp_path / "chroma")
    assert section["collections"]["docs"]["count"] == 3
    assert chroma.read_export(tmp_path / "chroma" / "docs.jsonl.gz")[1] == [_record(0), _record(1), _record(2)]


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_a_damaged_export_is_refused_naming_the_file(tmp_path, damage):
    path = tmp_path / "docs.jsonl.gz"
    if damage == "truncated":
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(json.dumps({"name": "docs", "count": 2}) + "\n" + json.dumps(_record(0)) + "\n")
        expected = "holds 1 records, its header says 2"
    else:
        path.write_bytes(b"not a gzip file")
        expected = "is not a readable Chroma export"
    with pytest.raises(BackupError, match=expected) as caught:
        chroma.read_export(path)
    assert str(path) in caught.value.message and "use another backup" in caught.value.fix


def test_an_import_sends_batches_the_server_accepts_and_keeps_every_record(chroma_server):
    chroma_server.max_batch = 4
    records = [_record(i) for i in range(10)]
    with chroma.ChromaHTTP(chroma_server.url) as http:
        chroma.import_collection(http, {"name": "docs", "metadata": {"k": "v"}}, records, name="copy")
        assert chroma.read_collection(http, "copy") == records
        assert chroma.read_collection(http, "docs") == []  # imported under the name given only
    assert chroma_server.adds == [4, 4, 2]
    assert chroma_server.by_name("copy")["metadata"] == {"k": "v"}


def _backup_of(tmp_path, chroma_server, collections: dict[str, list[dict]]) -> dict[str, dict]:
    """Export ``collections`` from a scratch server state, then leave the server empty; the manifest section."""
    for name, records in collections.items():
        chroma_server.create(name, records)
    section = chroma.export(chroma_server.url, tmp_path / "chroma")
    chroma_server.collections.clear()
    return section["collections"]


def test_a_swap_puts_the_backups_collections_in_and_the_live_ones_aside_until_discarded(chroma_server, tmp_path):
    backup = {"docs": [_record(1)], "examples": [_record(2), _record(3)]}
    expected = _backup_of(tmp_path, chroma_server, backup)
    chroma_server.create("docs", [_record(9)])  # live data the restore replaces
    chroma_server.create("notes", [_record(8)])  # live, not in the backup: set aside too
    journaled: list[dict] = []
    swap = chroma.Swap(chroma_server.url, tmp_path / "chroma", expected, before=lambda: journaled.append(
        json.loads(json.dumps(swap.state()))))
    swap.stage()
    assert set(chroma_server.names()) == {"docs", "notes", f"devmatrix-restoring-{swap.token}-docs",
                                          f"devmatrix-restoring-{swap.token}-examples"}
    swap.swap_in()
    assert chroma_server.records("docs") == backup["docs"]
    assert chroma_server.records("examples") == backup["examples"]
    aside = {name: f"devmatrix-pre-restore-{swap.token}-{name}" for name in ("docs", "notes")}
    assert chroma_server.records(aside["docs"]) == [_record(9)]
    assert chroma_server.records(aside["notes"]) == [_record(8)]
    # every name is journaled before the server is asked to create or rename it
    assert journaled[0]["staged"] == {"docs": f"devmatrix-restoring-{swap.token}-docs"}
    assert journaled[-1] == {"token": swap.token, "staged": {n: f"devmatrix-restoring-{swap.token}-{n}"
                                                            for n in backup},
                             "set_aside": aside, "swapped": ["docs", "examples"]}
    swap.discard()
    assert chroma_server.names() == ["docs", "examples"]


def test_a_swap_back_gives_the_live_collections_their_names_and_removes_the_backups(chroma_server, tmp_path):
    expected = _backup_of(tmp_path, chroma_server, {"docs": [_record(1)], "examples": [_record(2)]})
    chroma_server.create("docs", [_record(9)])
    swap = chroma.Swap(chroma_server.url, tmp_path / "chroma", expected)
    swap.stage()
    swap.swap_in()
    swap.swap_back()
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]
    swap.swap_back()  # a retry after a failure changes nothing more
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]


def test_a_killed_swap_is_undone_from_its_journaled_state(chroma_server, tmp_path):
    expected = _backup_of(tmp_path, chroma_server, {"docs": [_record(1)]})
    chroma_server.create("docs", [_record(9)])
    journaled: list[dict] = []
    swap = chroma.Swap(chroma_server.url, tmp_path / "chroma", expected,
                       before=lambda: journaled.append(json.loads(json.dumps(swap.state()))))
    swap.stage()
    swap.swap_in()
    resumed = chroma.Swap(chroma_server.url, None, {})  # what `restore --recover` builds
    resumed.resume(journaled[-1])
    resumed.swap_back()
    assert chroma_server.names() == ["docs"] and chroma_server.records("docs") == [_record(9)]


def test_a_staged_copy_that_differs_from_the_backup_stops_the_restore(chroma_server, tmp_path):
    expected = _backup_of(tmp_path, chroma_server, {"docs": [_record(1), _record(2)]})
    chroma_server.max_batch = 1
    original = chroma_server.answer

    def drop_second_add(method, path, query, body):
        if path.endswith("/add") and body["ids"] == ["r002"]:
            return 200, True  # the server says yes and stores nothing
        return original(method, path, query, body)

    chroma_server.answer = drop_second_add
    swap = chroma.Swap(chroma_server.url, tmp_path / "chroma", expected)
    with pytest.raises(BackupError, match="the restored copy of 'docs' does not match the backup: collection"
                                          " docs: 1 records, expected 2"):
        swap.stage()


def test_verify_of_a_backup_without_collections_needs_no_scratch_server(tmp_path):
    assert chroma.verify_in_scratch(tmp_path / "chroma", {}) == ({}, [])


def test_verify_imports_every_export_into_a_scratch_server_it_then_removes(chroma_server, scratch_chroma, tmp_path):
    expected = _backup_of(tmp_path, chroma_server, {"docs": [_record(1), _record(2)], "examples": [_record(3)]})
    assert chroma.verify_in_scratch(tmp_path / "chroma", expected) == ({"docs": 2, "examples": 1}, [])
    started = json.loads(scratch_chroma.read_text())
    assert started["telemetry"] == "False"  # a scratch server sends no usage data
    assert not Path(started["path"]).exists()  # its data directory is gone with it
    assert chroma_server.names() == []  # the live server is not touched


def test_verify_names_an_export_that_differs_from_the_manifest(chroma_server, scratch_chroma, tmp_path):
    expected = _backup_of(tmp_path, chroma_server, {"docs": [_record(1)]})
    expected["docs"]["content_sha256"] = chroma.content_digest([_record(2)])
    counts, problems = chroma.verify_in_scratch(tmp_path / "chroma", expected)
    assert counts == {"docs": 1} and problems == ["collection docs: export content differs from the manifest"]
