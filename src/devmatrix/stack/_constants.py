"""Every number that tunes the stack's lifecycle, in one place, each with its reason."""

# --- the stack lock (ops/services/stack_lock.py) ----------------------------------
# A command that changes the stack waits this long for another one to finish. The
# longest holder is a cold `invoke phase1` (initdb, model load, seeding the corpus):
# measured 32 s on a 2-core machine, ~130 s on a fresh clone that also installs
# system packages. Five minutes covers that twice over without leaving a user
# staring at a silent terminal forever.
STACK_LOCK_TIMEOUT_S = 300.0
# How often a waiting command looks again, and checks whether the holder changed.
STACK_LOCK_POLL_S = 1.0

# --- supervisord (ops/services/_supervisor.py) --------------------------------------
# supervisord answers in milliseconds, and no call of ours waits inside it (stops and
# starts return at once; we wait on the pids): 5 s without an answer means it is
# frozen or gone, and `infra.up` replaces it.
SUPERVISOR_RPC_TIMEOUT_S = 5.0
# supervisord writes its socket within ~0.3 s; 10 s covers a loaded 2-core machine.
DAEMON_START_TIMEOUT_S = 10.0
DAEMON_START_POLL_S = 0.05
# supervisord gets this long to exit after its programs are gone (asked over its socket,
# or SIGTERM when it no longer answers) before SIGKILL: its main loop wakes once a
# second, it has nothing to save, and a frozen one (SIGSTOP) never exits by itself.
SUPERVISORD_STOP_GRACE_S = 5.0
# supervisord's own SIGKILL comes this much later than ours (stopwaitsecs = a
# program's grace + this), so `infra.down` escalates first and can say so.
SUPERVISOR_BACKSTOP_S = 5
# A program replaced by `infra.up` (its config changed) is stopped first; supervisord kills it
# within its stopwaitsecs (the longest: a worker's 20 s warm shutdown + the backstop). Past
# this the stop is stuck and said so (the wait had no deadline before).
PROGRAM_STOP_TIMEOUT_S = 60.0

# --- stopping processes (ops/services/_reaper.py) -------------------------------------
# After SIGKILL a process is gone within milliseconds unless the kernel is stuck
# on I/O; past this we report it instead of waiting forever.
KILL_WAIT_S = 5.0
# Once every process of the stack has exited its listening sockets are closed at
# once; this only covers a slow kernel. Chroma used to hold its port 6-8 s only
# because `down` returned before Chroma had exited.
PORT_RELEASE_TIMEOUT_S = 5.0
# How often we look whether processes have exited or a port is free.
STOP_POLL_S = 0.05
