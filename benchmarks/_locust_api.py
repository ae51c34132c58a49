"""Locust users for benchmarks/bench_api.py (run by it, headless; not a benchmark on its own).

HealthUser: GET /api/v1/health/live at a fixed rate per user (users x rate = target req/s).
GenerateUser: POST /api/v1/generate back to back, each request unique (no cache hit).
Every response time is kept at full precision (locust's own table rounds to whole ms)
and written as JSON to --samples-out when the run ends.
"""

from __future__ import annotations

import json
import time
import uuid

from locust import FastHttpUser, between, constant_throughput, events, task

from devmatrix.config import load_settings

WARMUP_S = 2.0  # samples from the first seconds (connections opening, users spawning) are dropped
_samples: dict[str, list[float]] = {}
_failures: dict[str, int] = {}
_started = time.monotonic()


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    parser.add_argument("--samples-out", default="", help="where to write the response times (JSON)")
    parser.add_argument("--rate-per-user", type=float, default=10.0, help="HealthUser requests/s per user")
    parser.add_argument("--workspace-id", default="bench-api", help="workspace the generations go to")


@events.request.add_listener
def _record(name, response_time, exception, **_kwargs) -> None:
    if time.monotonic() - _started < WARMUP_S:
        return
    if exception is not None:
        _failures[name] = _failures.get(name, 0) + 1
        return
    _samples.setdefault(name, []).append(response_time)


@events.test_start.add_listener
def _reset(**_kwargs) -> None:
    global _started
    _started = time.monotonic()


@events.quitting.add_listener
def _write(environment, **_kwargs) -> None:
    path = environment.parsed_options.samples_out
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"samples_ms": _samples, "failures": _failures,
                       "seconds": time.monotonic() - _started - WARMUP_S}, handle)


class HealthUser(FastHttpUser):
    def wait_time(self):
        return constant_throughput(self.environment.parsed_options.rate_per_user)(self)

    @task
    def live(self) -> None:
        self.client.get("/api/v1/health/live", name="live")


class GenerateUser(FastHttpUser):
    wait_time = between(0, 0)
    network_timeout = 120.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.token = load_settings().api_token.get_secret_value()

    @task
    def generate(self) -> None:
        unique = uuid.uuid4().hex[:8]
        body = {"request": f"Write a Python function add_{unique}(a, b) that returns a + b",
                "workspace_id": self.environment.parsed_options.workspace_id,
                "min_score": 0.0}  # the load, not the local model's review scores, is measured
        with self.client.post("/api/v1/generate", json=body, name="generate", catch_response=True,
                              headers={"Authorization": f"Bearer {self.token}"}) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
