"""Integration only: the configured backend (the local server here), made deterministic.

The local model answers the same request with the same reply: the client sends
temperature 0, the server samples with a fixed seed and reuses no prompt cache
(devmatrix/llm/local_server.py), and this tier turns the LLM response cache off
(LLM_CACHE_ENABLED=false, for this process and the CLIs it starts), so every reply a
test checks was made by the model. The tests that check the cache turn it on for
their own client. A session in which generations ran and none succeeded fails.

The real-service fixtures every tier shares (Postgres, Redis, RAG system, workspace,
agent) are in tests/_fixtures/real_services.py.

`nox -s integration` runs two pytest processes at once. Every test on the shared stack
runs in one of them, one after another as before: their fixtures clean up by "rows
after my first id" and "every `test:*` key", and test_seed_public_api checks that
nothing at all was left behind. A test on a stack of its own (scratch servers on free
ports and state dirs: backup, restore, cleanup, the supervisor's heal, busy ports) shares
nothing with them but the CPU and the read-only LLM server: it is marked `own_stack`
here and runs in the other process meanwhile. Plain `nox` runs the tests marked
`chaos_lane` in the chaos tier's process instead, after its drill (see CHAOS_LANE).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from _fixtures.http_server import http_server
from devmatrix.checks.monitoring import MONITORING_SERVICES
from devmatrix.config import Settings, env_file_path, load_settings
from devmatrix.llm import AnthropicClient
from devmatrix.monitoring.metrics import REGISTRY
from devmatrix.stack import get_provider
from devmatrix.state import RedisManager

# The review gate this tier runs with, whatever .env.test says. SmolLM2-135M's review
# scores are close to noise, so a gate above 0 would make the pipeline's tests depend on
# the model's taste; this tier checks the pipeline. Tests of the gate set their own.
INTEGRATION_MIN_SCORE = 0.0


def _generation_counts() -> tuple[float, float, float]:
    """(generations started, generations that succeeded, calls the model answered or failed)."""
    calls = sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
                if sample.name == "llm_requests_total" and sample.labels.get("outcome") != "cache_hit")
    return (REGISTRY.get_sample_value("code_generation_attempts_total") or 0.0,
            REGISTRY.get_sample_value("code_generation_success_total") or 0.0, calls)


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """.env.test, with the response cache off and this tier's explicit review gate
    (APPROVAL_MIN_SCORE), here and in the CLIs it runs."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LLM_CACHE_ENABLED", "false")
        env.setenv("APPROVAL_MIN_SCORE", str(INTEGRATION_MIN_SCORE))
        yield load_settings()


@pytest.fixture
def idle_llm(settings: Settings) -> None:
    """Wait until the local server decodes nothing: llama.cpp batches its slots together, so
    a reply made while another request shares the batch (say, one an earlier test abandoned
    when it interrupted a workflow) can differ from the pinned one."""
    if settings.resolved_llm_backend != "local":
        return
    key = settings.llm_local_api_key.get_secret_value()
    deadline = time.monotonic() + IDLE_WAIT_S
    while True:
        slots = requests.get(f"{settings.llm_base_url}/slots", headers={"Authorization": f"Bearer {key}"},
                             timeout=10).json()
        busy = [slot["id"] for slot in slots if slot["is_processing"]]
        if not busy:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the local LLM server is still decoding in slot(s) {busy} after {IDLE_WAIT_S} s")
        time.sleep(0.1)


@pytest.fixture
def real_anthropic_client(settings: Settings, real_redis_manager: RedisManager,
                          idle_llm: None) -> Iterator[AnthropicClient]:
    """The configured backend (the local server here), uncached (see the module docstring)."""
    with AnthropicClient(settings=settings, redis_manager=real_redis_manager) as client:
        yield client


@pytest.fixture
def cached_client(settings: Settings, real_redis_manager: RedisManager, idle_llm: None) -> Iterator[AnthropicClient]:
    """The local backend with its response cache in Redis, under `test:` (removed after)."""
    with AnthropicClient(settings=settings.model_copy(update={"llm_cache_enabled": True}),
                         redis_manager=real_redis_manager) as client:
        yield client


# --- what was sent to the model ------------------------------------------------------
IDLE_WAIT_S = 120  # an abandoned request decodes at most max_tokens (512): about a minute here


@dataclass
class RecordingProxy:
    """A plain HTTP proxy in front of the local LLM server that keeps every request body."""

    port: int
    bodies: list[dict] = field(default_factory=list)

    def prompts(self) -> list[str]:
        """The text of every message sent (system prompt included), one string per request."""
        return ["\n".join([body.get("system") or "", *(str(m["content"]) for m in body["messages"])])
                for body in self.bodies]


@pytest.fixture
def llm_recorder(settings: Settings, idle_llm: None) -> Iterator[RecordingProxy]:
    """Point a client (or an app) at ``llm_port=llm_recorder.port`` to record its requests.
    Replies are the real server's, streamed back unchanged as they arrive."""
    recorder: RecordingProxy

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked replies: the stream passes through as it comes

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recorder.bodies.append(json.loads(body))
            upstream = http.client.HTTPConnection(settings.llm_host, settings.llm_port, timeout=120)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := reply.read1(65536):
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            finally:
                upstream.close()

        def log_message(self, *_args: object) -> None:
            pass

    with http_server(Forward, settings.llm_host) as port:
        recorder = RecordingProxy(port=port)
        yield recorder


# --- the real stack's provider, the CLI, and monitoring for a test ------------------------
INVOKE = str(Path(sys.executable).parent / "invoke")


@pytest.fixture
def provider(settings: Settings):
    return get_provider(settings, env_file=env_file_path(), echo=lambda _: None)


@pytest.fixture
def invoke_cli():
    def run(*args: str, env: dict[str, str] | None = None,
            isolated: bool = False) -> subprocess.CompletedProcess:
        """Run invoke; ``isolated`` drops DevMatrix variables so only the env file counts."""
        base = dict(os.environ)
        if isolated:
            for name in Settings.model_fields:
                base.pop(name.upper(), None)
        return subprocess.run([INVOKE, *args], capture_output=True, text=True, timeout=110,
                              stdin=subprocess.DEVNULL, env={**base, **(env or {})},
                              check=False)

    return run


@pytest.fixture
def monitoring_stack(invoke_cli, provider):
    """Monitoring up for the test; put back as it was found (down, unless it was already running)."""
    was_running = all(s.healthy for s in provider.status(MONITORING_SERVICES))
    started = invoke_cli("monitoring.up")
    assert started.returncode == 0, started.stderr
    yield
    if not was_running:
        stopped = invoke_cli("monitoring.down")
        assert stopped.returncode == 0, stopped.stderr


# --- the tier fails if the model never produced a working generation -----------------
@pytest.fixture(scope="session", autouse=True)
def _some_generation_succeeds() -> Iterator[None]:
    """Generations ran in this process, the model was called, and none succeeded: the
    pipeline is broken, or the pinned model no longer does what the tests pinned. (A run
    that asked the model for no generation, e.g. `-k bad_requests`, passes.) Fails as an
    error of the session's last test."""
    before = _generation_counts()
    yield
    attempts, successes, calls = (now - then for now, then in zip(_generation_counts(), before, strict=True))
    if attempts and calls and not successes:
        pytest.fail(f"{attempts:.0f} generations ran in this session and none succeeded", pytrace=False)
# The fixtures that start a scratch stack (tests/integration/ops): a test using one touches no shared server.
OWN_STACK_FIXTURES = frozenset({"stack", "clean", "heal", "scratch_stack", "rotating_stack"})
# What plain `nox` runs in the chaos tier's process once its drill is over (marked `chaos_lane`),
# to balance the tier's three processes on two cores (each ~4.5 min on a clean clone): the
# shared-stack tests of agents/ and workflows/test_workflow_local.py, there on the chaos stack,
# whose own LLM server lets their generations and the rest of the tier's use both cores; and
# the own-stack tests of ops/test_backup.py. Each needs a whole stack (or its own scratch one)
# and nothing of the first; `nox -s integration` runs them with the rest.
# rag/test_rag_cli_and_agent.py joined them on 2026-12-06: the shared-stack process was the long
# pole (10 min 13 s against 7 min 52 s and ~7 min), and its RAG generation is its longest test.
CHAOS_LANE = ("agents/", "workflows/test_workflow_local.py", "ops/test_backup.py", "rag/test_rag_cli_and_agent.py")
# Tests that use no server at all (the evidence sandbox: bubblewrap only) run in the own-stack
# process too: they need nothing of the shared stack, and the shared-stack process is the longest.
NO_SERVER = ("evidence/",)


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        path = Path(item.fspath)
        if here not in path.parents:
            continue
        where = path.relative_to(here).as_posix()
        if OWN_STACK_FIXTURES & set(getattr(item, "fixturenames", ())) or where.startswith(NO_SERVER):
            item.add_marker(pytest.mark.own_stack)
        if where.startswith(CHAOS_LANE):
            item.add_marker(pytest.mark.chaos_lane)
