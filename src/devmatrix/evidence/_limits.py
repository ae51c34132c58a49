"""Which limit or boundary a sandboxed run met, named for the result and the reader.

Two kinds of evidence. A limit that kills is read from how the run ended: killed by us at
the wall-clock deadline or at the output cap, or by the kernel's SIGXCPU / SIGKILL (CPU
seconds) or SIGXFSZ (file size). A limit that makes a call fail (memory, processes, the
network, the read-only file system) is seen where Python reports that failure: the error
messages below, which are the kernel's errno texts and CPython's exception names, the
same on every Linux. A run may meet several.
"""

from __future__ import annotations

import signal

# (limit, text that shows it in the output)
_SIGNS = (
    ("memory", "MemoryError"),
    ("memory", "Cannot allocate memory"),
    ("processes", "[Errno 11] Resource temporarily unavailable"),  # fork/clone at RLIMIT_NPROC
    ("processes", "can't start new thread"),
    ("network", "[Errno 101] Network is unreachable"),
    ("network", "[Errno 99] Cannot assign requested address"),
    ("network", "[Errno 111] Connection refused"),  # nothing listens in the sandbox's own loopback
    ("network", "Temporary failure in name resolution"),
    ("network", "Name or service not known"),
    ("filesystem", "[Errno 30] Read-only file system"),
    ("filesystem", "[Errno 13] Permission denied"),
    ("file_size", "[Errno 27] File too large"),
    ("disk", "[Errno 28] No space left on device"),  # the tmpfs is full
)
# A process ended by one of these signals (bwrap reports 128 + the signal number).
_SIGNALS = {signal.SIGXCPU: "cpu", signal.SIGKILL: "cpu", signal.SIGXFSZ: "file_size"}


def limits_hit(exit_code: int, output: str, killed: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The limits met, in a stable order, without repeats. ``killed``: why DevMatrix itself
    killed the run ("wall", "output", and "processes" if it held every process slot at the
    time); then a SIGKILL is ours, not the CPU limit's."""
    found = list(killed)
    if not killed and exit_code > 128 and (name := _SIGNALS.get(exit_code - 128)):
        found.append(name)
    found += [limit for limit, sign in _SIGNS if sign in output]
    return tuple(dict.fromkeys(found))
