"""The "DevMatrix - Overview" dashboard's panels, defined once: the seed's seven (§3.4), then the jobs'.

The Grafana dashboard (`devmatrix.monitoring.dashboard`), the snapshot renderer and the
test that every queried metric exists on a live scrape all read this list, so the
dashboard cannot drift from what is measured. Where the seed's query was wrong it is
fixed here, and the reason is given in ``why``.
"""

from __future__ import annotations

from dataclasses import dataclass

# The job queue's length: the broker's Redis list that the redis-exporter checks
# (stack._programs.job_queue_key; the broker's database is db 1).
JOB_QUEUE_LENGTH = 'redis_key_size{db="db1"}'


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    kind: str  # Grafana panel type: timeseries, stat or gauge
    expr: str
    legend: str = ""
    unit: str = "short"
    why: str = ""


# Panels 3 and 4 sum over every job: the API's scrape and what the workers' pool processes and
# batch processes (the CLI, workflows, the test tiers) pushed to the Pushgateway, kept under their
# own job labels (a worker's: one group per node and pool process).
_EVERY_PROCESS = ("summed over every process: the API's own series and those the workers (after each job),"
                  " the CLI, workflows and test tiers push (Pushgateway, jobs devmatrix-worker, devmatrix-cli"
                  " and devmatrix-tests)")

PANELS: tuple[Panel, ...] = (
    Panel(1, "API Request Rate", "timeseries",
          "sum by (method, route) (rate(http_requests_total[5m]))", "{{method}} {{route}}", "reqps",
          why="the label is route (the path template), not endpoint; summed so restarts do not split series"),
    Panel(2, "API Response Time (p95)", "timeseries",
          "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", "p95", "s",
          why="buckets are summed by le first: a quantile per label set is not the API's p95"),
    Panel(3, "LLM API Calls", "stat", "sum(llm_requests_total)", "Total Calls",
          why=_EVERY_PROCESS),
    Panel(4, "Code Generation Success Rate", "gauge",
          "100 * sum(rate(code_generation_success_total[5m])) / sum(rate(code_generation_attempts_total[5m]))",
          "success %", "percent", why=_EVERY_PROCESS),
    Panel(5, "PostgreSQL Connections", "stat", "sum(pg_stat_database_numbackends)", "connections",
          why="summed over databases: the seed's bare selector shows one number per database"),
    Panel(6, "Redis Memory Usage", "timeseries", "redis_memory_used_bytes", "used", "bytes"),
    Panel(7, "RAG Vector Store Size", "stat", "sum(chromadb_collection_documents)", "documents",
          why="Chroma has no /metrics; the API exports the count. The seed's name chromadb_collection_count"
              " breaks Prometheus naming (a _count suffix belongs to histograms and summaries)"),
    # The jobs (devmatrix.jobs): the queue from the broker's Redis, the workers from Flower.
    Panel(8, "Jobs Waiting in the Queue", "stat", f"sum({JOB_QUEUE_LENGTH})", "queued",
          why="the broker's list of the job queue (redis-exporter -check-single-keys); Flower exports no"
              " queue length. Jobs a worker has taken are not in it"),
    Panel(9, "Workers Online", "stat", "sum(flower_worker_online) or vector(0)", "workers",
          why="Flower's view of the Celery nodes: 1 while a node's heartbeats arrive; one killed without"
              " a goodbye is dropped 30 s after its last heartbeat (Flower's --purge_offline_workers)"),
    Panel(10, "Job Runtime (p95)", "timeseries",
          "histogram_quantile(0.95, sum by (le) (rate(flower_task_runtime_seconds_bucket[5m])))", "p95", "s",
          why="a job's time on its worker, from Flower's task events (buckets 0.5 s to 300 s)"),
    Panel(11, "Job Failures", "timeseries",
          'sum(increase(flower_events_total{type=~"task-failed|task-rejected"}[5m])) or vector(0)',
          "failed or rejected",
          why="jobs Celery saw fail or reject, from Flower's task events: every job stored 'failed'"
              " (code refused, a store down, past its attempt bound: the task then raises JobFailed), an"
              " exception escaping the task, a hard time limit. Why a job failed: its row (`devmatrix jobs`,"
              " GET /api/v1/jobs/ID)"),
)

DASHBOARD_TITLE = "DevMatrix - Overview"
DASHBOARD_UID = "devmatrix-overview"
