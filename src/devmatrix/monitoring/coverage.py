"""Which metrics the dashboard and the alerts query, and whether live scrapes have them.

A panel over a metric nobody exports is an empty graph nobody notices; this module
finds such drift. Names are pulled out of each PromQL expression (functions,
keywords, label matchers, durations and strings removed); a name exists when some
live scrape declares it (a labelled counter with no samples yet still declares its
family, so a fresh API counts) or Prometheus itself makes it (`up`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devmatrix.monitoring.panels import PANELS
from devmatrix.monitoring.prometheus import RULES_DIR

SCRAPE_TIMEOUT_S = 5.0
# Series Prometheus makes for every target itself; no exporter declares them.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "rate", "irate", "increase", "delta", "idelta", "histogram_quantile", "abs", "clamp_min",
    "clamp_max", "absent", "time", "vector", "scalar", "le",
}
# Sample names a family of each type exposes, beyond its own name.
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("_sum", "_count", "_created"), "gaugehistogram": ("_bucket", "_gsum", "_gcount")}


@dataclass(frozen=True)
class Query:
    where: str  # "panel 1 API Request Rate" or "alert TargetDown"
    expr: str

    @property
    def metrics(self) -> set[str]:
        return metric_names(self.expr)


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end():].lstrip()[:1]
        if name in _PROMQL_WORDS or following == "(" or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def queries(project: Path | None = None) -> list[Query]:
    """Every panel query and every alert expression."""
    found = [Query(f"panel {p.id} {p.title}", p.expr) for p in PANELS]
    for rules_file in sorted(((project or Path.cwd()) / RULES_DIR).glob("*.yml")):
        for group in yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"]:
            found += [Query(f"alert {r['alert']}", r["expr"]) for r in group["rules"] if "alert" in r]
    return found


def declared_names(exposition: str) -> set[str]:
    """Every sample name the exposition's families can produce."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def scrape(url: str) -> set[str]:
    response = requests.get(url, timeout=SCRAPE_TIMEOUT_S)
    response.raise_for_status()
    return declared_names(response.text)


def missing_metrics(available: set[str], project: Path | None = None) -> dict[str, list[str]]:
    """metric name → the panels and alerts that query it, for every name not available."""
    missing: dict[str, list[str]] = {}
    for query in queries(project):
        for name in sorted(query.metrics - available - PROMETHEUS_SYNTHETIC):
            missing.setdefault(name, []).append(query.where)
    return missing
