"""What the API's routes share: one Postgres pool, the job client, the LLM endpoint's circuit breaker,
and the generation slots. The API runs no generation (its workers do), so it has no LLM client
and no retriever, and never imports the LLM SDK: its start-up is part of every first phase1.

Each client is built on first use, not at start-up, so the API is live (and can say
what is not ready) while a dependency is down; a dependency that cannot be
reached raises ServiceError, which the handlers turn into 503. Everything is
closed when the app shuts down. The Postgres pool holds one connection per
generation slot plus API_POOL_READ_CONNECTIONS, so the generations the API admits
can never exhaust it.
"""

from __future__ import annotations

import threading

from devmatrix.api._constants import API_POOL_READ_CONNECTIONS
from devmatrix.api.slots import GenerationSlots
from devmatrix.config import Settings
from devmatrix.jobs.submit import JobClient
from devmatrix.llm import breaker as breakers
from devmatrix.state.postgres import PostgresManager


class Resources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.generation_slots = GenerationSlots.for_settings(settings)
        self._postgres: PostgresManager | None = None
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

    def jobs(self) -> JobClient:
        """Submits to the workers and reads jobs back (devmatrix.jobs), over the Postgres pool."""
        postgres = self.postgres()
        with self._lock:
            if self._jobs is None:
                self._jobs = JobClient(self.settings, postgres)
            return self._jobs

    def close(self) -> None:
        with self._lock:
            if self._jobs is not None:
                self._jobs.close()
                self._jobs = None
            if self._postgres is not None:
                self._postgres.close()
                self._postgres = None
