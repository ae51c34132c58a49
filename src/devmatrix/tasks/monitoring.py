"""`invoke monitoring.*`: native Prometheus and exporters, the checks of the monitoring code, snapshots."""

from __future__ import annotations

from pathlib import Path

from devmatrix.checks import monitoring as ops_monitoring
from devmatrix.errors import ChecksFailed
from devmatrix.results import Status
from devmatrix.stack import get_provider, registry
from devmatrix.tasks import infra
from devmatrix.tasks._common import (
    Folder,
    Number,
    checks_table,
    console,
    echo,
    env_file,
    print_json,
    settings,
    task,
)

SNAPSHOT_DIR = ".devmatrix/monitoring/snapshots"


def _provider():
    return get_provider(settings(), env_file=env_file(), echo=echo)


def _services(provider) -> tuple[str, ...]:
    """The monitoring group this provider runs (Grafana only under compose)."""
    return registry.monitoring(provider.name)


@task(help={"dry": "print what would start, change nothing"})
def up(c, dry=False):
    """Start Prometheus, the Pushgateway and the postgres and redis exporters (127.0.0.1; + Grafana under compose)."""
    provider = _provider()
    infra.start(_services(provider), dry, provider)


@task(help={"dry": "print what would stop"})
def down(c, dry=False):
    """Stop the monitoring services (the core stack keeps running)."""
    provider = _provider()
    infra.stop(_services(provider), dry, provider)


@task(help={"json": "print the results as JSON",
            "static": "only what needs no server: promtool config/rules/tests and the generated files"
                      " (no generation)"})
def check(c, json=False, static=False):
    """Prove the monitoring: promtool, rule tests, generated files, live scrapes, targets, one pushed generation."""
    s = settings()
    results = ops_monitoring.static_checks(s) if static else ops_monitoring.check(s, env_file=env_file())
    if json:
        print_json([r.to_dict() for r in results])
    else:
        console.print(checks_table(results, "monitoring.check"))
    if any(r.status is Status.FAIL for r in results):
        raise ChecksFailed(f"{sum(r.status is Status.FAIL for r in results)} monitoring check(s) failed (above)")


@task(help={"out": f"directory for the PNGs (default {SNAPSHOT_DIR})",
            "minutes": "how far back each graph goes, 1-10080 (default 15)", "json": "print the results as JSON"},
      checks={"out": Folder(), "minutes": Number(1, 7 * 24 * 60)})
def snapshot(c, out=SNAPSHOT_DIR, minutes=15, json=False):
    """Draw each dashboard panel's query from the live Prometheus into a PNG (Grafana cannot run here)."""
    results = ops_monitoring.snapshot(settings(), Path(out), minutes=int(minutes))
    if json:
        print_json([r.to_dict() for r in results])
    else:
        console.print(checks_table(results, f"monitoring.snapshot → {out}"))
