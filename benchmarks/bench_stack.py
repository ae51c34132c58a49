"""Benchmark the foundation: cold and warm `invoke phase1`, each service's own start, validate,
and `nox -s smoke`.

phase1, the service starts and validate run on a scratch stack (own state dir, free
ports, own database files) so the real stack and its data are never touched. The
smoke tier runs as a developer runs it: `nox -s smoke` against the stack of
.env.test, its venv already there. Results go to docs/benchmarks.md.
Usage: python benchmarks/bench_stack.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from devmatrix.bench_report import write_section
from devmatrix.stack.system import free_port

INVOKE = str(Path(sys.executable).parent / "invoke")
ROOT = Path(".devmatrix/bench") / uuid.uuid4().hex[:8]  # under the project: devmatrix-pg can reach it


def scratch_env() -> dict[str, str]:
    return {
        **os.environ,
        "DEVMATRIX_ENV_FILE": str(ROOT / ".env.test"),
        "DEVMATRIX_STATE_DIR": str(ROOT / "state"),
        "WORKSPACE_DIR": str(ROOT / "workspace_test"),
        "RAG_CACHE_DIR": str(ROOT / "rag_cache"),
        **{name: str(free_port()) for name in (
            "POSTGRES_PORT", "REDIS_PORT", "CHROMADB_PORT", "LLM_PORT", "API_PORT")},
    }


def invoke(env: dict[str, str], *args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run([INVOKE, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"invoke {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed, json.loads(result.stdout) if "--json" in args else {}


def smoke() -> tuple[float, float]:
    """(wall s of `nox -s smoke`, s its pytest reported); the session's venv exists already."""
    nox = Path(".venv/bin/nox") if Path(".venv/bin/nox").exists() else shutil.which("nox")
    if nox is None:
        raise SystemExit("FAIL: nox not found — fix: bash scripts/bootstrap.sh (it installs nox into .venv)")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    start = time.perf_counter()
    result = subprocess.run([str(nox), "-s", "smoke"], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"nox -s smoke failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    tests = re.search(r"passed in ([\d.]+)s", result.stdout + result.stderr)
    return elapsed, float(tests.group(1)) if tests else float("nan")


def main() -> None:
    ROOT.mkdir(parents=True)
    env = scratch_env()
    try:
        cold_wall, cold = invoke(env, "phase1", "--json")
        warm_wall, warm = invoke(env, "phase1", "--json")
        own_start: dict[str, float] = {}
        services = [r["name"] for r in cold["steps"][0]["results"]]
        for name in services:
            invoke(env, "infra.down", "-s", name)
            own_start[name], _ = invoke(env, "infra.up", "-s", name)
        validate_wall, report = invoke(env, "validate", "--json")
    finally:
        subprocess.run([INVOKE, "infra.down"], env=env, capture_output=True, check=False)
        shutil.rmtree(ROOT, ignore_errors=True)
    smoke_wall, smoke_tests = smoke()

    slowest = max(own_start, key=own_start.get)
    rows = ["| step | cold (s) | warm (s) |", "| --- | ---: | ---: |"]
    for c, w in zip(cold["steps"], warm["steps"], strict=True):
        rows.append(f"| {c['name']} | {c['seconds']:.2f} | {w['seconds']:.2f} |")
    rows.append(f"| **whole command (wall, incl. interpreter start)** | {cold_wall:.2f} | {warm_wall:.2f} |")
    starts = "\n".join(f"| {n} | {t:.2f} |" for n, t in own_start.items())
    ratio = warm_wall / own_start[slowest]
    body = f"""
Scratch stack (own state dir and ports), provider native. Times include the
Python interpreter and Invoke start-up of each command.

{chr(10).join(rows)}

Each service's own start (`invoke infra.up -s <service>` after stopping it, wall):

| service | seconds |
| --- | ---: |
{starts}

- warm `invoke phase1`: **{warm_wall:.2f} s = {ratio:.2f}×** the slowest single service's
  own start ({slowest}, {own_start[slowest]:.2f} s); target ≤ 1.5×.
- `invoke validate`: **{validate_wall:.2f} s** wall, {report.get('passed')}/{report.get('total')}
  critical checks passed; target < 5 s.
- `nox -s smoke` (its venv already there, the stack of .env.test running): **{smoke_wall:.1f} s**
  wall, of which pytest {smoke_tests:.1f} s; target < 60 s:
  {"met" if smoke_wall < 60 else f"NOT met, by {smoke_wall - 60:.1f} s"}.
"""
    write_section("stack", "Stack: phase1, service starts, validate", body)
    print(body)


if __name__ == "__main__":
    main()
