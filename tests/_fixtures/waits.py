"""How long a test waits for an answer whose end the product itself bounds.

The server ends every generation within GENERATE_DEADLINE_S (an error past it, never a hang), and
a caller that submits it to the workers (POST /generate, `devmatrix generate`) waits at most
SYNC_WAIT_S for it, the queue's wait included: a test that waits less fails on a busy machine for
a slow answer that is legitimate (the RAG test took over 110 s at load 6 on 2 cores; in a CI run
at 6cafa29 an in-process RAG generation passed pytest's 120 s default after a 40.6 s embedding
model load). Waiting the product's bound plus a margin for the round trip still catches the bug
that matters: a request the server never ends.
"""

from devmatrix.jobs import SYNC_WAIT_S

GENERATE_WAIT_S = SYNC_WAIT_S + 15


def generations_test_timeout(count: int) -> float:
    """pytest-timeout for a test that makes ``count`` such requests one after another, beyond its
    own setup and checks (60 s)."""
    return count * GENERATE_WAIT_S + 60


ONE_GENERATION_TEST_TIMEOUT_S = generations_test_timeout(1)
# Prometheus scrapes every 10 s: a test that waits for a generation's metrics there polls this long
SCRAPES_WAIT_S = 60
