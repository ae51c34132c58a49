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
# Postgres SERIAL ids are 32-bit: a larger id cannot exist, and would be a server error.
MAX_LOG_ID = 2**31 - 1
