"""What the API's routes share: one Postgres pool, one Redis connection, one LLM client, one retriever,
and the generation slots.

Each client is built on first use, not at start-up, so the API is live (and can say
what is not ready) while a dependency is down; a dependency that cannot be
reached raises ServiceError, which the handlers turn into 503. Everything is
closed when the app shuts down. The Postgres pool holds one connection per
generation slot plus API_POOL_READ_CONNECTIONS, so the generations the API admits
can never exhaust it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from devmatrix.api._constants import API_POOL_READ_CONNECTIONS
from devmatrix.api.slots import GenerationSlots
from devmatrix.config import Settings
from devmatrix.jobs.submit import JobClient
from devmatrix.llm import breaker as breakers
from devmatrix.llm import create_llm_client
from devmatrix.rag.retriever import create_retriever
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager

if TYPE_CHECKING:
    from devmatrix.llm.client import AnthropicClient
    from devmatrix.rag.retriever import Retriever
    from devmatrix.state.postgres import PostgresManager
    from devmatrix.state.redis import RedisManager


class Resources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.generation_slots = GenerationSlots.for_settings(settings)
        self._postgres: PostgresManager | None = None
        self._redis: RedisManager | None = None
        self._llm: AnthropicClient | None = None
        self._retriever: Retriever | None = None
        self._jobs: JobClient | None = None

    @property
    def llm_endpoint(self) -> str:
        """The URL whose circuit breaker guards this app's LLM calls (as the client keys it)."""
        return self.settings.resolved_llm_base_url

    @property
    def pool_size(self) -> int:
        """The Postgres pool: a generation uses one connection at a time, the reads a few more."""
        return self.generation_slots.limit + API_POOL_READ_CONNECTIONS

    def breaker_status(self) -> dict[str, object]:
        return breakers.status(self.llm_endpoint)

    def record_llm_outcome(self, failure: BaseException | None) -> None:
        """Count an LLM call a worker made for this API (read from its job) on this API's breaker."""
        breakers.record(self.llm_endpoint, failure)

    def postgres(self) -> PostgresManager:
        with self._lock:
            if self._postgres is None:
                self._postgres = PostgresManager(settings=self.settings, max_connections=self.pool_size)
            return self._postgres

    def llm(self) -> AnthropicClient:
        with self._lock:
            if self._llm is None:
                self._redis = self._redis or RedisManager(settings=self.settings)
                self._llm = create_llm_client(self.settings, redis_manager=self._redis)
            return self._llm

    def jobs(self) -> JobClient:
        """Submits to the workers and reads jobs back (devmatrix.jobs), over the Postgres pool."""
        postgres = self.postgres()
        with self._lock:
            if self._jobs is None:
                self._jobs = JobClient(self.settings, postgres)
            return self._jobs

    def retriever(self) -> Retriever:
        """Built on the first `enable_rag` request (loads the embedding model once, not per request)."""
        with self._lock:
            if self._retriever is None:
                self._retriever = create_retriever(settings=self.settings)
            return self._retriever

    def close(self) -> None:
        with self._lock:
            if self._retriever is not None:
                self._retriever.store.close()
                self._retriever.embedding_model.close()
                self._retriever = None
            if self._llm is not None:
                self._llm.close()
            if self._redis is not None:
                self._redis.close()
            if self._jobs is not None:
                self._jobs.close()
                self._jobs = None
            if self._postgres is not None:
                self._postgres.close()
            self._llm = self._redis = self._postgres = None
