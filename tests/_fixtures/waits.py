"""How long a test waits for an answer whose end the product itself bounds.

The server ends every generation within GENERATE_DEADLINE_S (an error past it, never a hang):
a test that waits less fails on a busy machine for a slow answer that is legitimate (the
RAG test took over 110 s at load 6 on 2 cores). Waiting the deadline plus a margin for the
HTTP round trip still catches the bug that matters: a request the server never ends.
"""

from devmatrix.deadlines import GENERATE_DEADLINE_S

GENERATE_WAIT_S = GENERATE_DEADLINE_S + 15
# pytest-timeout for a test that makes one such request, beyond its own setup
ONE_GENERATION_TEST_TIMEOUT_S = GENERATE_WAIT_S + 60
