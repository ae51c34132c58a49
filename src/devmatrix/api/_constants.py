"""Every number and name that shapes the API's behaviour, in one place."""

from __future__ import annotations

API_PREFIX = "/api/v1"
# A generation request is at most 20,000 characters (agents/codegen.py); JSON-escaped
# non-ASCII text can take six bytes a character, so the body limit leaves room for that.
MAX_BODY_BYTES = 128 * 1024
REQUEST_ID_HEADER = "x-request-id"
# A client's own request id is echoed back only when it looks like an id, not like text.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# Label value for requests that matched no route: raw paths would make labels unbounded.
UNMATCHED_ROUTE = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The readiness endpoint runs its checks in parallel, each with the probes' own timeout.
READY_CHECK_WORKERS = 4
# --- backpressure (api/slots.py) ----------------------------------------------------------
# The Retry-After of a 429 for a full set of generation slots: a slot frees when a generation
# ends; one takes 5-30 s on the local server (two or three LLM calls of 2-10 s each).
GENERATION_RETRY_AFTER_S = 10
# Connections of the API's Postgres pool beyond one per generation slot: a generation uses one
# at a time, for one statement; these serve GET /generations/{log_id} meanwhile. Health and
# metrics probe Postgres on connections of their own, outside the pool.
API_POOL_READ_CONNECTIONS = 2
