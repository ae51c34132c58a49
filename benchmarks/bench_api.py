"""Benchmark the API with locust (headless, bounded, loopback): liveness at a target rate, generation at 4 users.

Runs against the native `api` service of the stack in .env.test (`invoke infra.up`
starts it); nothing else is load-tested. The generations go to their own
workspace and their rows are deleted afterwards. Total run time about 2 minutes.
Usage: python benchmarks/bench_api.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from devmatrix.config import load_settings
from devmatrix.ops.bench_report import write_section
from devmatrix.state.postgres import PostgresManager

LOCUST = str(Path(sys.executable).parent / "locust")
LOCUSTFILE = str(Path(__file__).with_name("_locust_api.py"))
TARGET_RPS = 500
HEALTH_USERS = 10  # x 50 req/s each = the target rate (fewer connections: less burst from the generator)
HEALTH_SECONDS = 30
GENERATE_USERS = 4
GENERATE_SECONDS = 60
TARGET_P99_MS = 5.0


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def server_histogram(url: str, route: str) -> tuple[float, float, float]:
    """(count, sum, count under 5 ms) of http_request_duration_seconds for GET ``route``."""
    text = requests.get(f"{url}/api/v1/metrics/prometheus", timeout=10).text
    values = {"count": 0.0, "sum": 0.0, "fast": 0.0}
    for line in text.splitlines():
        if f'route="{route}"' not in line or 'method="GET"' not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("http_request_duration_seconds_count"):
            values["count"] = float(value)
        elif name.startswith("http_request_duration_seconds_sum"):
            values["sum"] = float(value)
        elif name.startswith("http_request_duration_seconds_bucket") and 'le="0.005"' in name:
            values["fast"] = float(value)
    return values["count"], values["sum"], values["fast"]


def run_locust(url: str, user: str, users: int, seconds: int, out: Path, *extra: str) -> dict:
    command = [LOCUST, "-f", LOCUSTFILE, user, "--headless", "--only-summary", "--host", url,
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "10",
               "--samples-out", str(out), "--loglevel", "WARNING", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if not out.exists():
        raise SystemExit(f"locust wrote no samples (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


def summary(data: dict, name: str) -> dict:
    samples = data["samples_ms"].get(name, [])
    return {
        "requests": len(samples), "failures": data["failures"].get(name, 0),
        "rps": len(samples) / data["seconds"] if data["seconds"] > 0 else 0.0,
        "p50": percentile(samples, 0.50), "p95": percentile(samples, 0.95), "p99": percentile(samples, 0.99),
        "max": max(samples, default=float("nan")),
    }


def main() -> None:
    settings = load_settings()
    url = f"http://{settings.api_host}:{settings.api_port}"
    try:
        requests.get(f"{url}/api/v1/health/live", timeout=5).raise_for_status()
    except requests.RequestException as error:
        raise SystemExit(f"FAIL: the api service does not answer at {url} ({error})"
                         " — fix: `invoke infra.up -s api`") from None
    workspace = f"bench-api-{uuid.uuid4().hex[:8]}"
    scratch = Path(tempfile.mkdtemp(prefix="bench_api_"))
    postgres = PostgresManager(settings=settings)
    started = time.perf_counter()
    try:
        before = server_histogram(url, "/api/v1/health/live")
        health = summary(run_locust(url, "HealthUser", HEALTH_USERS, HEALTH_SECONDS, scratch / "health.json",
                                    "--rate-per-user", str(TARGET_RPS / HEALTH_USERS)), "live")
        after = server_histogram(url, "/api/v1/health/live")
        generate = summary(run_locust(url, "GenerateUser", GENERATE_USERS, GENERATE_SECONDS,
                                      scratch / "generate.json", "--workspace-id", workspace), "generate")
        rows = postgres.execute("SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE success) AS ok,"
                                " AVG(latency_s) AS agent_s FROM code_generation_logs WHERE workspace_id = %s",
                                (workspace,))[0]
    finally:
        postgres.execute("DELETE FROM code_generation_logs WHERE workspace_id = %s", (workspace,))
        postgres.close()
        shutil.rmtree(settings.workspace_dir / workspace, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.perf_counter() - started

    served = after[0] - before[0]
    server_mean_ms = (after[1] - before[1]) / served * 1000 if served else float("nan")
    server_fast = (after[2] - before[2]) / served * 100 if served else float("nan")
    verdict = "met" if health["p99"] < TARGET_P99_MS and health["rps"] >= TARGET_RPS * 0.95 else "NOT met"
    live_row = (f"| GET /api/v1/health/live (target {TARGET_RPS} req/s) | {HEALTH_USERS} | {health['requests']}"
                f" | {health['failures']} | {health['rps']:.0f} | {health['p50']:.2f} | {health['p95']:.2f}"
                f" | {health['p99']:.2f} | {health['max']:.1f} |")
    generate_row = (f"| POST /api/v1/generate (local backend) | {GENERATE_USERS} | {generate['requests']}"
                    f" | {generate['failures']} | {generate['rps']:.2f} | {generate['p50']:.0f}"
                    f" | {generate['p95']:.0f} | {generate['p99']:.0f} | {generate['max']:.0f} |")
    body = f"""
Locust {HEALTH_USERS} users x {TARGET_RPS / HEALTH_USERS:g} req/s against the native `api` service
(uvicorn, one process) on loopback; load generator and server share the machine's CPUs.
Latencies are client-side, at full precision, after a 2 s warm-up; the gap to the
server-side time below is the load generator and CPU sharing.

| endpoint | users | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{live_row}
{generate_row}

- Target p99 < {TARGET_P99_MS:g} ms at {TARGET_RPS} req/s on /health/live: **{verdict}**.
- Server-side (the API's own `http_request_duration_seconds`): {served:.0f} liveness requests,
  mean {server_mean_ms:.3f} ms, {server_fast:.1f} % under 5 ms.
- Generations: {rows['n']} logged, {rows['ok']} successful (the 135M local model often writes invalid
  code: that is a failed generation, still a 200 with `success: false`), mean agent time
  {float(rows['agent_s'] or 0):.2f} s; every request unique, so no response-cache hits. {GENERATE_SECONDS} s run.
- Whole benchmark: {wall:.0f} s.
"""
    write_section("api", "API under load (locust)", body)
    print(body)


if __name__ == "__main__":
    main()
