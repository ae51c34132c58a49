"""The one metrics registry of DevMatrix, and every metric in it.

Names follow Prometheus conventions (`_total`, `_seconds`, `_bytes`); labels are
bounded: route templates, model names, outcomes — never raw paths or prompts.
The Grafana dashboard and alert rules query these names, and a test checks that
each one they use exists on a live scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests", "HTTP requests served by the API.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "Time to serve an HTTP request.",
    ["method", "route"], registry=REGISTRY,
)
LLM_REQUESTS = Counter(
    "llm_requests", "Calls to the language model, by outcome.",
    ["model", "backend", "outcome"], registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "llm_tokens", "Tokens used by language-model calls.",
    ["model", "backend", "direction"], registry=REGISTRY,
)
LLM_COST_USD = Counter(
    "llm_cost_usd", "Dollars spent on language-model calls.",
    ["model", "backend"], registry=REGISTRY,
)
LLM_REQUEST_DURATION = Histogram(
    "llm_request_duration_seconds", "Latency of a language-model call.",
    ["model", "backend"], registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120),
)
LLM_CIRCUIT_BREAKER_STATE = Gauge(
    "llm_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    registry=REGISTRY,
)
CODE_GENERATION_ATTEMPTS = Counter(
    "code_generation_attempts", "Code-generation requests started.", registry=REGISTRY,
)
CODE_GENERATION_SUCCESS = Counter(
    "code_generation_success", "Code-generation requests that succeeded.", registry=REGISTRY,
)
RAG_RETRIEVAL_DURATION = Histogram(
    "rag_retrieval_duration_seconds", "Time to retrieve examples for a query.",
    ["strategy"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EMBEDDING_CACHE_HITS = Counter(
    "embedding_cache_hits", "Embeddings served from the persistent cache.", registry=REGISTRY,
)
EMBEDDING_CACHE_MISSES = Counter(
    "embedding_cache_misses", "Embeddings computed because the cache had none.",
    registry=REGISTRY,
)
CHROMADB_COLLECTION_DOCUMENTS = Gauge(
    "chromadb_collection_documents", "Documents in a Chroma collection (Chroma has no /metrics).",
    ["collection"], registry=REGISTRY,
)
CHROMADB_UP = Gauge(
    "chromadb_up", "1 when the Chroma server answered the API's last scrape-time probe, else 0.",
    registry=REGISTRY,
)
BACKUP_LAST_SUCCESS = Gauge(
    "devmatrix_backup_last_success_timestamp_seconds",
    "UTC time of the newest complete backup in BACKUP_DIR (unset when there is none).", registry=REGISTRY,
)
BACKUP_LAST_SIZE = Gauge(
    "devmatrix_backup_last_size_bytes", "Bytes of the newest complete backup in BACKUP_DIR.", registry=REGISTRY,
)
LLM_BUDGET_USD = Gauge(
    "llm_budget_usd", "The dollar budget per UTC day (LLM_BUDGET_USD).", registry=REGISTRY,
)
LLM_BUDGET_SPENT_USD = Gauge(
    "llm_budget_spent_usd", "Dollars spent today against LLM_BUDGET_USD by every process on this Redis.",
    registry=REGISTRY,
)
API_GENERATIONS_RUNNING = Gauge(
    "api_generations_running", "Generations the API is running now (at most API_MAX_CONCURRENT_GENERATIONS).",
    registry=REGISTRY,
)
API_GENERATIONS_REFUSED = Counter(
    "api_generations_refused", "Generation requests the API answered 429 because every slot was in use.",
    registry=REGISTRY,
)
