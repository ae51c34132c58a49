"""A persistent embedding cache: one SQLite file, keyed by model id and normalized text.

It survives restarts (a re-seed embeds nothing it has seen), and a corrupt file
is moved aside and rebuilt with a warning: the cache is only ever a speed-up,
never the source of truth, so losing it costs time, not data.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("devmatrix.rag")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,          -- sha256(model id, normalized text)
    vector BLOB NOT NULL,          -- float32, little-endian
    truncated INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    path: str

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"hits": self.hits, "misses": self.misses, "hit_rate": round(self.hit_rate, 4),
                "entries": self.entries, "path": self.path}


def normalize(text: str) -> str:
    return " ".join(text.split())


def cache_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\0{normalize(text)}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            db.execute(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM embeddings").fetchone()
            return db
        except sqlite3.DatabaseError as error:  # not a database, or a damaged one
            db.close()
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(aside)
            log.warning("embedding_cache_rebuilt", path=str(self.path), moved_to=str(aside),
                        reason=str(error))
            db = sqlite3.connect(self.path, check_same_thread=False)
            db.execute(_SCHEMA)
            return db

    def get_many(self, model_id: str, texts: Sequence[str]) -> dict[str, tuple[list[float], bool]]:
        keys = {cache_key(model_id, t): t for t in texts}
        found: dict[str, tuple[list[float], bool]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                chunk = list(keys)[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, vector, truncated FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})",  # noqa: S608 - only ? placeholders
                    chunk).fetchall()
                for key, blob, truncated in rows:
                    found[keys[key]] = (array("f", blob).tolist(), bool(truncated))
            unique = set(texts)
            self.hits += sum(1 for t in texts if t in found)
            self.misses += sum(1 for t in texts if t not in found)
        return {t: found[t] for t in unique if t in found}

    def put_many(self, model_id: str, entries: Mapping[str, tuple[list[float], bool]]) -> None:
        now = time.time()
        rows = [(cache_key(model_id, text), array("f", vector).tobytes(), int(truncated), now)
                for text, (vector, truncated) in entries.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)

    def get_stats(self) -> CacheStats:
        with self._lock:
            (entries,) = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()
            return CacheStats(self.hits, self.misses, entries, str(self.path))

    def close(self) -> None:
        with self._lock:
            self._db.close()
