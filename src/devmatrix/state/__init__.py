"""State: Postgres (the durable record), Redis (live state, caches), and the agents' scratchpad.

The seed's names, importable from here: ``PostgresManager(host=, port=, database=, user=,
password=)`` with ``.execute(sql)``, ``RedisManager(host=, port=, password=)`` with
``.client``, and ``SharedScratchpad(redis_manager=, postgres_manager=)``.
"""

from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import SharedScratchpad

__all__ = ["PostgresManager", "RedisManager", "SharedScratchpad"]
