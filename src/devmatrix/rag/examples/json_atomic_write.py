# id: json_atomic_write
# title: Read and write JSON files atomically
# topic: file_io
# tags: json, file io, atomic write, os.replace, tempfile, pathlib
import json
import os
import tempfile
from pathlib import Path


def write_json_atomic(path: Path, data: object) -> None:
    """Write to a temp file in the same directory, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_json(path: Path, default: object = None) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "config" / "settings.json"
        assert read_json(target, {}) == {}
        write_json_atomic(target, {"name": "DevMatrix", "ports": [8000, 8001]})
        assert read_json(target) == {"name": "DevMatrix", "ports": [8000, 8001]}
        assert [p.name for p in target.parent.iterdir()] == ["settings.json"]  # no temp file left
