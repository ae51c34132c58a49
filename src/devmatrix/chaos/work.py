"""The real work a chaos case runs while a fault hits: what a user types, run as the user would.

Requests are fixed and the LLM cache is bypassed: at temperature 0 the local model then
gives the same reply every run, so a case fails only because of its fault.

Each workload is the product's own entry point (the `devmatrix` CLI, an Invoke
task, or an HTTP request to the API) with its stated deadline, and ends in
`Seen`: what the user saw (success, exit code or HTTP status, the message).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devmatrix import clients
from devmatrix.config import Settings
from devmatrix.deadlines import GENERATE_DEADLINE_S, PG_DUMP_TIMEOUT_S, VALIDATE_DEADLINE_S

# A CLI pays ~2 s of interpreter start-up before its first call; a rag query also
# opens the embedding model (its query vector comes from the persistent cache).
CLI_STARTUP_S = 15.0
RAG_QUERY_DEADLINE_S = 30.0 + CLI_STARTUP_S
# `invoke validate` imports every task module (and the rag check the embedding libraries)
# before its first check: ~2-3 s on a quiet machine, 7 s with one core busy, ~20 s seen with the
# tiers' three lanes and other work on 2 cores (issue 22: 10.08 s against a bare 10 s bound, then
# 23 s against 18 s). That CPU work is outside any deadline of ours, so the promise is measured
# where it holds: the checks' own wall time (`checks_seconds` in `validate --json`) within
# VALIDATE_DEADLINE_S. The whole process is bounded too, loosely, to catch a hang.
VALIDATE_HANG_S = 90.0
# Two dependent implementation tasks the local model writes reliably (3-4 s in all), so a
# resumed workflow can be asked to succeed.
WORKFLOW_REQUEST = "Write a function add(a, b), then write a function double(x) that returns add(x, x)"
GENERATE_REQUEST = "Write a Python function add(a, b) that returns the sum"
RAG_QUERY = "memoized fibonacci"
# The review gate the workloads run with: chaos measures detection and recovery, and the local
# model's review scores are noise, so a rejection must not count as an outage.
CHAOS_MIN_SCORE = "0"
WORKLOADS = ("generate", "api", "workflow", "rag", "backup", "validate")


@dataclass
class Seen:
    """What the user saw."""

    ok: bool
    code: int  # exit code, or HTTP status (0: the request itself failed)
    message: str  # the FAIL line, the JSON error message, or a summary of the success
    seconds: float
    service: str | None = None
    fix: str | None = None
    payload: dict = field(default_factory=dict)

    @property
    def warned(self) -> bool:
        """Succeeded, but said that something was not recorded (e.g. the log row)."""
        return self.ok and bool(self.payload.get("logging_error"))


class Workload(ABC):
    """One run of a command; ``start()`` returns at once, ``wait()`` gives what the user saw."""

    name = ""
    deadline_s = 0.0  # what the user is promised: the work ends (or fails clearly) within it

    @property
    def hang_s(self) -> float:
        """Past this the work is hung and killed: its deadline and a margin for a busy machine."""
        return self.deadline_s + 30

    @property
    def freeze_s(self) -> float:
        """How long a store or LLM frozen "until the work ends" stays frozen at most."""
        return self.deadline_s

    def __init__(self, settings: Settings, env_file: Path, tag: str) -> None:
        self.settings, self.env_file, self.tag = settings, env_file, tag
        self.workspace = f"chaos-{tag}"
        self.started = 0.0
        self.ended: float | None = None

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def done(self) -> bool: ...

    @abstractmethod
    def wait(self) -> Seen: ...

    def under_way(self) -> bool:
        """The work has reached what the fault is meant to hit (a fixed delay is enough unless
        a workload says otherwise)."""
        return True


class _Command(Workload):
    @abstractmethod
    def argv(self) -> list[str]: ...

    def start(self) -> None:
        env = {**os.environ, "DEVMATRIX_ENV_FILE": str(self.env_file.resolve()), "HF_HUB_OFFLINE": "1",
               "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def done(self) -> bool:
        finished = self.proc.poll() is not None
        if finished and self.ended is None:
            self.ended = time.monotonic()
        return finished

    def wait(self) -> Seen:
        try:
            out, err = self.proc.communicate(timeout=self.hang_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            return Seen(False, -9, f"still running after {self.hang_s:g} s: killed",
                        time.monotonic() - self.started)
        self.done()
        seconds = (self.ended or time.monotonic()) - self.started
        payload = _json(out)
        fail = next((line.removeprefix("FAIL: ") for line in err.splitlines() if line.startswith("FAIL: ")), "")
        code = self.proc.returncode
        if code == 0:
            return Seen(True, 0, self.summary(payload), seconds, payload=payload)
        failed = "; ".join(f"task {t['id']} {t['status']}: {t['error']}" for t in payload.get("failed_tasks", []))
        message = fail or payload.get("error") or failed or err.strip()[-300:]
        return Seen(False, code, message, seconds, service=payload.get("service"),
                    fix=payload.get("fix") or _fix_of(message), payload=payload)

    def summary(self, payload: dict) -> str:
        return "ok"


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _fix_of(message: str) -> str | None:
    return message.split(" — fix: ", 1)[1] if " — fix: " in message else None


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class Generate(_Command):
    name, deadline_s = "generate", GENERATE_DEADLINE_S + CLI_STARTUP_S

    def argv(self) -> list[str]:
        return [_bin("devmatrix"), "generate", GENERATE_REQUEST, "--workspace", self.workspace,
                "--no-cache", "--json", "--min-score", CHAOS_MIN_SCORE]

    def summary(self, payload: dict) -> str:
        note = f"; {payload['logging_error']}" if payload.get("logging_error") else ""
        return f"success={payload.get('success')} log_id={payload.get('log_id')}{note}"


class Workflow(_Command):
    name, deadline_s = "workflow", 2 * GENERATE_DEADLINE_S + CLI_STARTUP_S
    resuming: str | None = None  # the workflow id, once interrupted

    def argv(self) -> list[str]:
        if self.resuming:
            return [_bin("devmatrix"), "workflow", "--resume", self.resuming, "--no-cache", "--json",
                    "--min-score", CHAOS_MIN_SCORE]
        return [_bin("devmatrix"), "workflow", WORKFLOW_REQUEST, "--workspace", self.workspace,
                "--no-cache", "--json", "--min-score", CHAOS_MIN_SCORE]

    def summary(self, payload: dict) -> str:
        return f"workflow {payload.get('workflow_id')} success={payload.get('success')}"

    def under_way(self) -> bool:
        """Its workflow row exists, so a fault from now on interrupts a workflow that can be
        resumed. A fixed delay was not enough: on a busy machine the CLI's start-up outlasted
        it, the fault hit before the workflow existed, and there was nothing to resume."""
        conn = clients.postgres_connect(self.settings)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM workflows WHERE workspace_id = %s", (self.workspace,))
                return cursor.fetchone() is not None
        finally:
            conn.close()

    def resume(self, workflow_id: str) -> Seen:
        self.resuming, self.ended = workflow_id, None
        self.start()
        return self.wait()


class RagQuery(_Command):
    name, deadline_s = "rag", RAG_QUERY_DEADLINE_S

    def argv(self) -> list[str]:
        return [_bin("invoke"), "rag.query", RAG_QUERY, "--json"]

    def summary(self, payload: dict) -> str:
        results = payload.get("results") or [{}]
        return f"top {results[0].get('id')}"


class Backup(_Command):
    name, deadline_s = "backup", PG_DUMP_TIMEOUT_S + CLI_STARTUP_S

    def argv(self) -> list[str]:
        self.folder = self.settings.devmatrix_state_dir / "chaos" / self.tag
        return [_bin("invoke"), "backup", "--to", str(self.folder), "--keep", "1", "--json"]

    def summary(self, payload: dict) -> str:
        return f"backup {payload.get('path')}"


class Validate(_Command):
    """`invoke validate`: with a service down or frozen it must fail (exit 1), naming it, within
    its checks' 10 s (the interpreter's start-up aside: see VALIDATE_HANG_S)."""

    name, deadline_s = "validate", VALIDATE_DEADLINE_S
    freeze_s = hang_s = VALIDATE_HANG_S  # frozen until validate ends, however long its start-up

    def argv(self) -> list[str]:
        return [_bin("invoke"), "validate", "--json"]

    def summary(self, payload: dict) -> str:
        return f"ready: {payload.get('passed')}/{payload.get('total')} critical checks passed"

    def wait(self) -> Seen:
        seen = super().wait()
        if "checks_seconds" in seen.payload:  # the time the deadline bounds (see VALIDATE_HANG_S)
            seen.seconds = float(seen.payload["checks_seconds"])
        failed = [c for c in seen.payload.get("checks", []) if c.get("status") == "FAIL" and c.get("critical")]
        if failed:
            seen.message = "; ".join(f"{c['name']}: {c['detail']}" for c in failed)
        return seen


class ApiGenerate(Workload):
    """POST /api/v1/generate, as an HTTP client with its own deadline would."""

    name, deadline_s = "api", GENERATE_DEADLINE_S + 5

    def start(self) -> None:
        s = self.settings
        self.url = f"http://{s.api_host}:{s.api_port}/api/v1/generate"
        self.result: Seen | None = None
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._post, daemon=True)
        self.thread.start()

    def _post(self) -> None:
        body = {"request": GENERATE_REQUEST, "workspace_id": self.workspace, "use_cache": False,
                "min_score": float(CHAOS_MIN_SCORE)}
        headers = {"Authorization": f"Bearer {self.settings.api_token.get_secret_value()}"}
        try:
            response = requests.post(self.url, json=body, headers=headers, timeout=self.deadline_s)
            payload = _json(response.text)
            ok = response.status_code == 200
            message = (f"200 success={payload.get('success')} id={payload.get('id')}"
                       + (f"; {payload['logging_error']}" if payload.get("logging_error") else "")
                       if ok else f"{response.status_code} {payload.get('message', response.text[:200])}"
                       + (f" — fix: {payload['fix']}" if payload.get("fix") else ""))
            self.result = Seen(ok, response.status_code, message, time.monotonic() - self.started,
                               service=payload.get("service"), fix=payload.get("fix"), payload=payload)
        except requests.RequestException as error:
            self.result = Seen(False, 0, f"{type(error).__name__}: {error}", time.monotonic() - self.started)
        self.ended = time.monotonic()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def wait(self) -> Seen:
        self.thread.join(self.hang_s)
        assert self.result is not None, "the request thread ended without a result"
        return self.result


def workload(name: str, settings: Settings, env_file: Path) -> Workload:
    kinds = {"generate": Generate, "api": ApiGenerate, "workflow": Workflow, "rag": RagQuery, "backup": Backup,
             "validate": Validate}
    return kinds[name](settings, env_file, uuid.uuid4().hex[:8])
