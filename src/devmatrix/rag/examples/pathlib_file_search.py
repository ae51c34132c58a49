# id: pathlib_file_search
# title: Find and summarize files with pathlib
# topic: file_io
# tags: pathlib, glob, rglob, file size, directory walk
import tempfile
from pathlib import Path


def largest_files(root: Path, pattern: str = "*.py", top: int = 3) -> list[tuple[str, int]]:
    """The ``top`` largest files matching ``pattern`` below ``root``, as (relative path, bytes)."""
    files = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob(pattern) if p.is_file()]
    return sorted(files, key=lambda item: (-item[1], item[0]))[:top]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "pkg").mkdir()
        (root / "a.py").write_text("x = 1\n")
        (root / "pkg" / "b.py").write_text("y = 2\n" * 10)
        (root / "notes.txt").write_text("z" * 100)
        assert largest_files(root) == [("pkg/b.py", 60), ("a.py", 6)]
