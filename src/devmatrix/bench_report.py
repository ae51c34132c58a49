"""Write benchmark results into docs/benchmarks.md, one section per benchmark.

Each benchmark replaces only its own section (between markers), so they can run
separately and the file keeps every latest result.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

REPORT = Path("docs/benchmarks.md")
HEADER = (
    "# Benchmarks\n\n"
    "Written by `nox -s bench` (one script: `nox -s bench -- bench_chaos`); each section is replaced by its own "
    "benchmark. Numbers are from the machine named in the section: compare like with like. This machine kind has"
    " 2 cores and is often shared while a benchmark runs: each section records the load average when it was"
    " written (above 2, other work was competing for the cores, and latencies are inflated by it).\n"
)


def write_section(key: str, title: str, body: str, report: Path = REPORT) -> None:
    """Replace (or append) the section ``key`` of the report with ``body``."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # The machine may be shared while a benchmark runs: its load says how much to trust the numbers.
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()};"
               f" load average (1 / 5 / 15 min) {load} when written")
    section = (
        f"<!-- bench:{key}:start -->\n## {title}\n\n_Measured {stamp} on {machine}._\n\n"
        f"{body.strip()}\n<!-- bench:{key}:end -->"
    )
    text = report.read_text(encoding="utf-8") if report.exists() else HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(key)}:start -->.*?<!-- bench:{re.escape(key)}:end -->", re.S
    )
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else f"{text.rstrip()}\n\n{section}\n"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text, encoding="utf-8")
