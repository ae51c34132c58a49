"""Tuning numbers of the evidence sandbox and checks, each with its reason.

Deadlines (wall clock) live in devmatrix/deadlines.py; what a user tunes (memory, CPU
seconds, repair rounds) is in Settings. These are the rest.
"""

from __future__ import annotations

# --- the sandbox --------------------------------------------------------------------
# Processes (threads count too: RLIMIT_NPROC counts tasks) the sandbox's user may have.
# pytest and a test that starts a few subprocesses or a thread pool fit; a fork bomb
# stops here, with EAGAIN on fork.
SANDBOX_MAX_PROCESSES = 64
# Largest file a sandboxed process may write (RLIMIT_FSIZE): past it, SIGXFSZ.
SANDBOX_FILE_SIZE_BYTES = 16 * 1024 * 1024
# Size of each tmpfs (the work dir, /tmp): it is RAM, which RLIMIT_AS does not cover.
SANDBOX_TMPFS_BYTES = 64 * 1024 * 1024
# Open files per process: pytest needs a few dozen.
SANDBOX_MAX_OPEN_FILES = 256
# Output kept per stream (stdout, stderr); a run that writes more is killed there: a
# generated module that prints in a loop says nothing new after the first screenful.
SANDBOX_OUTPUT_BYTES = 256 * 1024
# Host uids a sandbox runs as when DevMatrix runs as root: one drawn at random per run,
# so RLIMIT_NPROC (counted per uid) counts that run's processes only, and whatever still
# runs as that uid afterwards is that run's and nothing else's (the sweep). Far above
# system users, login users (1000+) and the usual subordinate-id ranges (100000+, 65536
# wide each), and below 2^31 so no tool mistakes it for a negative number.
SANDBOX_UID_FIRST = 1_500_000_000
SANDBOX_UID_COUNT = 100_000_000
# Inside the sandbox: the work dir, holding copies of the files under check, and its cwd.
SANDBOX_WORKDIR = "/sandbox"

# --- the checks ---------------------------------------------------------------------
# What a check result carries of its output (the result dict, the log row, the API
# answer): the head of a traceback or of pytest's summary, not a megabyte of prints.
EXCERPT_CHARS = 4000
# A folder under check is copied whole into the sandbox's tmpfs: a package of generated
# code is a handful of files. More than this is not generated code (a whole repository).
MAX_FILES = 200
MAX_TOTAL_BYTES = 8 * 1024 * 1024
# Directories never copied (caches, VCS data, virtualenvs).
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache", "node_modules", ".tox", ".nox"})
# ruff's rules for errors, not style: syntax errors (E9), comparisons that are always
# wrong (F63), statements in the wrong place (F7), undefined names (F82). The set GitHub's
# Python starter workflow fails a build on; an unused import is not an error.
RUFF_ERROR_RULES = ("E9", "F63", "F7", "F82")
# How often a run's end is looked for: its pid namespace's init turning into a zombie (or gone).
NAMESPACE_POLL_S = 0.01
