"""Every deadline a call to a service has, in one place, each with its reason.

A frozen server (SIGSTOP, a stalled disk, a hung process) still completes TCP
handshakes from the kernel's backlog, so a connect timeout alone never fires:
every client also needs a read deadline, and nothing may retry a timeout (a
server that did not answer for N seconds will not answer in the next N).
Connection errors (refused, reset) are different: they are what a restart looks
like, and they are retried inside a short window.
"""

from __future__ import annotations

# --- every service -----------------------------------------------------------
# All servers are on loopback or a LAN: a handshake takes well under a millisecond,
# so 3 s is only ever reached by a server that is not answering.
CONNECT_TIMEOUT_S = 3.0
# Readiness probes (validate, /health/ready, infra.status): one round trip each, so a
# frozen service is named within this and `invoke validate` ends well under 10 s.
PROBE_TIMEOUT_S = 3.0

# --- PostgreSQL ---------------------------------------------------------------
# No byte from the server for this long ends the call (client side, enforced by the
# psycopg2 wait callback in devmatrix.clients: libpq itself has no read timeout).
# DevMatrix's statements are single-row writes and indexed reads: milliseconds.
POSTGRES_IO_TIMEOUT_S = 15.0
# The server cancels a statement running longer (a lock wait, a runaway query), so
# the connection stays usable; below the client deadline so the server speaks first.
POSTGRES_STATEMENT_TIMEOUT_MS = 12_000
# TCP keepalives find a peer that vanished (host down, cable pulled) on an idle
# pooled connection: first probe after 30 s idle, then every 5 s, dead after 3.
POSTGRES_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 5,
                       "keepalives_count": 3}
# Connecting (never a statement: it may have run) is retried for this long while the server
# refuses or is starting up: it covers the supervisor restarting a killed Postgres (1.9 s).
POSTGRES_RECONNECT_WINDOW_S = 10.0
# A pooled connection is held for one statement (milliseconds), so a thread that finds
# every connection in use gets one within this, unless the pool is too small for the load:
# then the caller is told Postgres is busy (ServiceBusy, 429), never that it is down.
# Far below the API client's patience, far above a burst of statements on two busy cores.
POSTGRES_POOL_WAIT_S = 2.0
# The Retry-After of that answer: a pool stays full for statements, not for generations.
POSTGRES_BUSY_RETRY_AFTER_S = 1
# pg_dump / pg_restore of a local DevMatrix database take seconds; a dump still
# running after this is stuck (a frozen server) and is killed.
PG_DUMP_TIMEOUT_S = 300.0
PG_RESTORE_TIMEOUT_S = 600.0

# --- Redis ---------------------------------------------------------------------
# Every command is sub-millisecond on loopback; BGSAVE is asynchronous.
REDIS_SOCKET_TIMEOUT_S = 3.0
# A pooled connection idle this long is PINGed before use, so a restarted Redis is
# found before a command is sent on a dead socket.
REDIS_HEALTH_CHECK_INTERVAL_S = 10
# A refused or reset connection (a restart: measured 1.9 s under the supervisor) is retried
# on a fresh socket this many times with exponential back-off from 0.1 s, capped at 1 s:
# ~3.5 s in all. A timeout (a frozen server) is never retried.
REDIS_RECONNECT_RETRIES = 6
REDIS_RECONNECT_BACKOFF_S = (0.1, 1.0)  # (first wait, longest wait)
# redis-check-rdb reads a local file: seconds even for large dumps.
REDIS_CHECK_RDB_TIMEOUT_S = 120.0

# --- Chroma --------------------------------------------------------------------
# A query on 100k vectors answers in tens of milliseconds; a batch upsert of a few
# hundred documents in well under a second. No answer for 10 s is a frozen server.
CHROMA_READ_TIMEOUT_S = 10.0
# A backup or restore reads and writes pages of 1000 records with their embeddings.
CHROMA_BULK_TIMEOUT_S = 60.0

# --- the Pushgateway ----------------------------------------------------------------
# A batch process pushes its metrics once when it ends; a gateway that does not answer
# in this time is reported (a warning) and the process goes on: monitoring being off
# never fails a generation.
PUSHGATEWAY_TIMEOUT_S = 2.0

# --- the LLM -------------------------------------------------------------------
# Replies are streamed, so the read deadline is the longest silence between two
# chunks, not the length of the reply: the local server sends a token every ~20 ms,
# the paid API a token or a ping every few seconds. Time to the first byte includes
# waiting for a free server slot (two on the local server) and reading the prompt: a
# request queued behind two 512-token generations on two busy cores waits 20-25 s
# (10 s failed workflow tests whenever the test tiers ran beside each other).
LLM_IDLE_TIMEOUT_S = {"local": 30.0, "anthropic": 60.0}
# Connection refused/reset and 429/5xx are retried with backoff for this long: it
# covers the supervisor restarting a killed LLM server (measured 4.0 s, plus its
# 1 s startsecs), so a generation that meets a restart succeeds.
LLM_RETRY_WINDOW_S = 12.0
LLM_RETRY_INITIAL_S = 0.5
LLM_RETRY_MAX_WAIT_S = 4.0
# One call, retries included. 512 tokens at 50-70 tok/s is ~10 s on the local server,
# 3x that on two busy cores; the paid API streams faster.
LLM_CALL_DEADLINE_S = 90.0
# validate's "What is 2 + 2?" round trip: 16 tokens take 0.4 s; a frozen server is
# reported well inside validate's 10 s.
LLM_CHECK_TIMEOUT_S = 6.0
# The whole LLM check of validate and phase1 (a /slots look, /health, 2 + 2, and a second /slots
# look when 2 + 2 got no slot): inside validate's own wait (VALIDATE_DEADLINE_S - 0.5), with a
# second to spare. Under load, 2 + 2 waited behind other generations past validate's deadline.
LLM_CHECK_BUDGET_S = 8.5
LLM_CHECK_MIN_S = 2.0  # 2 + 2 gets at least this: 16 tokens take 0.4 s on a quiet server

# --- the evidence sandbox (devmatrix.evidence) ----------------------------------
# One sandboxed run: the import of a generated module, or its tests under pytest. Python
# and pytest start in ~0.5 s on a busy core and a generated module's tests take a second
# or two; a run still going after this is a loop, a sleep or a hang, and its whole pid
# namespace is killed. (CPU time per process is a separate limit: SANDBOX_CPU_S.)
SANDBOX_WALL_S = 30.0
# After SIGKILL the sandbox's pid-1 dies and the kernel kills the rest of its namespace at
# once; reaping takes milliseconds. Waiting longer means the kernel could not kill them.
SANDBOX_KILL_WAIT_S = 5.0
# `bwrap ... true`, run once per process to learn whether namespaces can be made here:
# tens of milliseconds; longer is a stuck machine, reported as the sandbox being unavailable.
SANDBOX_PROBE_TIMEOUT_S = 10.0
# ruff over a few generated files takes milliseconds; it parses and never runs the code.
RUFF_TIMEOUT_S = 30.0

# --- commands ------------------------------------------------------------------
# Stated end-to-end deadlines (docs/architecture.md, RUNBOOK). A generation makes at
# most three LLM calls (generate, one repair, review), each given what is left of this.
GENERATE_DEADLINE_S = 180.0
VALIDATE_DEADLINE_S = 10.0
