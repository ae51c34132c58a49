"""chromadb's HTTP API with deadlines (built by devmatrix.clients.chroma_client).

chromadb 1.5.9 creates its httpx session with ``timeout=None``, so a frozen
server would hang every call forever. This subclass keeps everything else and
gives the session connect and read deadlines; a test checks the session really
carries them (the version is pinned).
"""

from __future__ import annotations

import httpx
from chromadb.api.fastapi import FastAPI
from chromadb.config import System

from devmatrix import deadlines

TIMEOUT = httpx.Timeout(deadlines.CHROMA_READ_TIMEOUT_S, connect=deadlines.CONNECT_TIMEOUT_S)


class DeadlineFastAPI(FastAPI):
    def __init__(self, system: System) -> None:
        super().__init__(system)
        self._session.timeout = TIMEOUT
