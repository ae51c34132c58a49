"""Shared by every tier: the settings, the real-service fixtures, and the rule that a test's
tier is its directory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from devmatrix.config import Settings, load_settings
from devmatrix.monitoring.metrics import REGISTRY
from devmatrix.monitoring.push import TESTS_JOB, push

# The seed's §2.1 fixtures, for every tier: a conftest.py under tests/<tier>/ is not seen by
# the other tiers. `nox -s unit` checks every tier's wiring (`pytest --setup-plan`).
pytest_plugins = ["_fixtures.real_services"]

TIERS = {"unit", "integration", "smoke", "real_api", "chaos"}
COST_REPORT = Path(".devmatrix/reports/llm_costs.json")
_costs: dict[str, dict[str, float]] = {}
_tiers_run: set[str] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--llm-double", action="store_true",
                     help="tests/real_api runs against the Messages-API double (nox -s real_api_contract):"
                          " ANTHROPIC_BASE_URL must be on this machine, and the calls count in a budget"
                          " ledger of the session's own, never in today's paid budget, and the run's"
                          " metrics are not pushed")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test under tests/<tier>/ must carry that tier's marker, so `-m` selects honestly."""
    root = Path(__file__).parent
    for item in items:
        tier = Path(item.fspath).relative_to(root).parts[0]
        if tier in TIERS and item.get_closest_marker(tier) is None:
            raise pytest.UsageError(f"{item.nodeid} is under tests/{tier}/ but not marked {tier}")


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings every real-service test uses (.env.test, or the documented defaults)."""
    return load_settings()


# --- the seed's "Cost Management", done automatically -------------------------------
# Every LLM call made in this process is counted by the metrics registry; the delta
# around each test is that test's calls, tokens, dollars and wall time. (Calls made by
# a subprocess, e.g. the `devmatrix` CLI, are not in this process and not counted.)
def _llm_totals() -> tuple[float, float, float]:
    calls = tokens = cost = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "llm_requests_total" and sample.labels.get("outcome") != "cache_hit":
                calls += sample.value
            elif sample.name == "llm_tokens_total":
                tokens += sample.value
            elif sample.name == "llm_cost_usd_total":
                cost += sample.value
    return calls, tokens, cost


@pytest.fixture(autouse=True)
def _working_directory_stays():
    """A test (or the code under it) that leaves the process in another folder breaks every later
    test that resolves a relative path (.devmatrix, tasks.py): fail the one that did it, here."""
    before = os.getcwd()
    yield
    after = os.getcwd()
    if after != before:
        os.chdir(before)
        pytest.fail(f"the process's working directory moved from {before} to {after} during this test")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    _tiers_run.update(tier for tier in TIERS if item.get_closest_marker(tier))
    before, start = _llm_totals(), time.perf_counter()
    try:
        return (yield)
    finally:
        calls, tokens, cost = (a - b for a, b in zip(_llm_totals(), before, strict=True))
        if calls:
            _costs[item.nodeid] = {"llm_calls": calls, "tokens": tokens, "cost_usd": round(cost, 6),
                                   "seconds": round(time.perf_counter() - start, 2)}


def pytest_terminal_summary(terminalreporter) -> None:
    # A tier on the real stack pushes what it measured, like any batch process (the unit
    # tier's numbers come from fakes and stay out of Prometheus).
    if terminalreporter.config.getoption("--llm-double"):
        # the double's dollars are not spent: they stay out of Prometheus' LLM cost panels
        terminalreporter.write_line("metrics not pushed: the LLM calls went to the Messages-API double (--llm-double)")
    elif _tiers_run - {"unit"}:
        push(load_settings(), TESTS_JOB, warn=terminalreporter.write_line)
    if not _costs:
        return
    write = terminalreporter.write_line
    terminalreporter.section("LLM cost and latency per test")
    write(f"{'test':<88} {'calls':>5} {'tokens':>7} {'cost $':>9} {'secs':>6}")
    for nodeid, row in sorted(_costs.items(), key=lambda kv: -kv[1]["cost_usd"]):
        write(f"{nodeid[-88:]:<88} {row['llm_calls']:>5.0f} {row['tokens']:>7.0f}"
              f" {row['cost_usd']:>9.6f} {row['seconds']:>6.1f}")
    total = sum(r["cost_usd"] for r in _costs.values())
    write(f"total: {len(_costs)} tests called the LLM, ${total:.6f}; written to {COST_REPORT}")
    COST_REPORT.parent.mkdir(parents=True, exist_ok=True)
    COST_REPORT.write_text(json.dumps(_costs, indent=2), encoding="utf-8")
