"""`invoke monitoring.*`: the checks that prove the monitoring code, and dashboard snapshots.

check: promtool on the rendered config and the rules, the rule unit tests, the
generated Grafana files up to date, every queried metric present on live scrapes,
every Prometheus target up. Each is a CheckResult; none is skipped silently.
snapshot: each panel's query over the last minutes from the live Prometheus, drawn
to a PNG, because Grafana cannot run here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from devmatrix import clients
from devmatrix.boundary import run_main
from devmatrix.config import ENV_FILE_VARIABLE, Settings
from devmatrix.deadlines import GENERATE_DEADLINE_S
from devmatrix.errors import ServiceError
from devmatrix.monitoring import coverage, push
from devmatrix.monitoring import dashboard as grafana
from devmatrix.monitoring import prometheus as prometheus_config
from devmatrix.monitoring.panels import PANELS, Panel
from devmatrix.results import CheckResult, Status, timed
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack import registry

MONITORING_SERVICES = registry.monitoring("native")
HTTP_TIMEOUT_S = 5.0
PROMTOOL_TIMEOUT_S = 60


def _promtool(name: str, *args: str) -> CheckResult:
    promtool = shutil.which("promtool")
    if promtool is None:
        return CheckResult(name, Status.FAIL, "promtool is not installed",
                           data={"fix": "apt-get install prometheus (scripts/bootstrap.sh does)"})
    with timed() as elapsed:
        result = subprocess.run([promtool, *args], capture_output=True, text=True,
                                timeout=PROMTOOL_TIMEOUT_S, check=False)
    output = (result.stdout + result.stderr).strip()
    last = output.splitlines()[-1].strip() if output else ""
    if result.returncode == 0:
        return CheckResult(name, Status.PASS, f"promtool {args[0]} {args[1]}: {last}", seconds=elapsed())
    return CheckResult(name, Status.FAIL, f"promtool {' '.join(args)} failed:\n{output[-1500:]}",
                       seconds=elapsed())


def compose_config() -> str:
    """infra/prometheus/prometheus.compose.yml as the registry says it must read."""
    return prometheus_config.compose_config_text(registry.compose_scrape_jobs())


def static_checks(settings: Settings, project: Path | None = None) -> list[CheckResult]:
    """What needs no running server: config, rules, rule tests, generated files."""
    root = (project or Path.cwd()).resolve()
    config = prometheus_config.write_native_config(settings, registry.native_scrape_jobs(settings), root)
    rules = sorted(str(p) for p in (root / prometheus_config.RULES_DIR).glob("*.yml"))
    tests = sorted(str(p) for p in (root / prometheus_config.RULE_TESTS_DIR).glob("*.yml"))
    results = [_promtool("prometheus config", "check", "config", str(config)),
               _promtool("alert rules", "check", "rules", *rules),
               _promtool("alert rule tests", "test", "rules", *tests)]
    stale = [str(path) for path in grafana.stale(root)]
    compose = root / prometheus_config.COMPOSE_CONFIG
    if not compose.exists() or compose.read_text(encoding="utf-8") != compose_config():
        stale.append(str(compose))
    results.append(CheckResult(
        "generated files", Status.FAIL if stale else Status.PASS,
        f"stale: {', '.join(stale)}; regenerate with `python -m devmatrix.monitoring.dashboard` and"
        " `python -m devmatrix.checks.monitoring`" if stale
        else "Grafana dashboard + provisioning and the compose Prometheus config match the code"))
    return results


def metrics_coverage(settings: Settings, project: Path | None = None) -> CheckResult:
    """Every metric a panel or an alert queries is declared by a live scrape."""
    urls = {job.job: f"http://{job.target}{job.metrics_path}" for job in registry.native_scrape_jobs(settings)}
    available: set[str] = set()
    with timed() as elapsed:
        for service, url in urls.items():
            try:
                available |= coverage.scrape(url)
            except requests.RequestException as error:
                return CheckResult("metrics coverage", Status.FAIL,
                                   f"cannot scrape {service} at {url}: {error}; start it with"
                                   " `invoke monitoring.up` (and `invoke infra.up` for the api)",
                                   seconds=elapsed())
        missing = coverage.missing_metrics(available, project)
    used = sorted({name for q in coverage.queries(project) for name in q.metrics})
    if missing:
        detail = "; ".join(f"{name} (used by {', '.join(where)})" for name, where in missing.items())
        return CheckResult("metrics coverage", Status.FAIL, f"not on any live scrape: {detail}",
                           seconds=elapsed(), data={"missing": missing})
    return CheckResult("metrics coverage", Status.PASS,
                       f"all {len(used)} metrics used by {len(PANELS)} panels and the alerts exist on live scrapes",
                       seconds=elapsed(), data={"metrics": used})


def targets(settings: Settings, *, wait_s: float = 30.0) -> CheckResult:
    """Every configured scrape job discovered and up (waiting up to ``wait_s`` after a start).

    Right after a start Prometheus is ready before it has discovered its targets: an
    empty list is "not yet", never "all up".
    """
    url = f"{settings.prometheus_url}/api/v1/targets"
    expected = {job.job for job in registry.native_scrape_jobs(settings)}
    seen: dict[str, dict] = {}  # the last answer: what is reported once the wait is over

    def all_up() -> bool | None:
        active = requests.get(url, timeout=HTTP_TIMEOUT_S).json()["data"]["activeTargets"]
        seen["health"] = {t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in active}
        seen["down"] = {job: h for job, h in seen["health"].items() if h[0] != "up"}
        seen["down"].update({job: ("not discovered", "") for job in expected - set(seen["health"])})
        return None if seen["down"] else True

    with timed() as elapsed:
        try:
            poll(all_up, timeout_s=wait_s, wait_s=1)
        except PollTimedOut:
            pass  # reported below, from the last answer
        except (requests.RequestException, ValueError, KeyError) as error:
            return CheckResult("prometheus targets", Status.FAIL,
                               f"cannot read {url}: {error}; start it with `invoke monitoring.up`",
                               seconds=elapsed())
    health, down = seen["health"], seen["down"]
    if down:
        detail = "; ".join(f"{job} {h[0]} {h[1]}".strip() for job, h in sorted(down.items()))
        return CheckResult("prometheus targets", Status.FAIL, f"not up: {detail}", seconds=elapsed(),
                           data={"targets": health})
    return CheckResult("prometheus targets", Status.PASS, f"all {len(health)} up: {', '.join(sorted(health))}",
                       seconds=elapsed(), data={"targets": health})


# The counter a CLI generation pushes, as Prometheus sees it through the Pushgateway.
PUSHED_GENERATIONS = f'sum(code_generation_attempts_total{{job="{push.CLI_JOB}"}})'
PUSH_PROOF_REQUEST = "a Python function that returns the sum of two integers"
PUSH_PROOF_WORKSPACE = "test-monitoring-check"  # a test workspace: `invoke cleanup` removes what it leaves


def _instant(settings: Settings, expr: str) -> float:
    """The value of ``expr`` now (0 when it has no series yet)."""
    with clients.map_exceptions("prometheus", f"query failed at {settings.prometheus_url}",
                                fix="`invoke monitoring.up`"):
        body = requests.get(f"{settings.prometheus_url}/api/v1/query", params={"query": expr},
                            timeout=HTTP_TIMEOUT_S).json()  # not JSON: requests' JSONDecodeError
    result = body.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else 0.0


def proof_outcome(returncode: int, stderr: str) -> tuple[bool, str]:
    """(whether the proof generation ran, what its exit code means, in words).

    Exit 0 or 1 both mean it ran and was counted as an attempt: 1 is the model's code failing the
    pipeline, as the local 135M model's often does, which this check does not judge. Any other
    exit (bad settings, a service down, a setup step missing) means no generation ran."""
    if returncode == 0:
        return True, "the proof generation succeeded (`devmatrix generate` exit 0)"
    if returncode == 1:
        return True, ("the proof generation ran; the model's code did not pass (`devmatrix generate` exit 1,"
                      " usual for the local model), and the attempt counts all the same")
    failed = next((line for line in stderr.splitlines() if line.startswith("FAIL:")), stderr.strip()[-300:])
    return False, f"the proof generation did not run: `devmatrix generate` exited {returncode}: {failed}"


def pushed_generation(settings: Settings, *, env_file: Path, wait_s: float = 45.0) -> CheckResult:
    """One CLI generation, then its pushed counter seen by Prometheus: batch metrics arrive.

    Writes what any generation writes, but no commit: a file in workspace `test-monitoring-check` and a
    log row, both removed by `invoke cleanup`.
    """
    with timed() as elapsed:
        try:
            before = _instant(settings, PUSHED_GENERATIONS)
        except ServiceError as error:
            return CheckResult("pushed metrics", Status.FAIL, str(error), seconds=elapsed())
        command = [sys.executable, "-m", "devmatrix.cli", "generate", PUSH_PROOF_REQUEST,
                   "--workspace", PUSH_PROOF_WORKSPACE, "--no-git", "--no-cache", "--json",
                   "--in-process"]  # this command's own counters, pushed by it (a worker's are its own)
        run = subprocess.run(command, capture_output=True, text=True, check=False,
                             timeout=GENERATE_DEADLINE_S + 30,
                             env={**os.environ, ENV_FILE_VARIABLE: str(env_file.resolve())})
        warning = next((line for line in run.stderr.splitlines() if "metrics not pushed" in line), "")
        if warning:
            return CheckResult("pushed metrics", Status.FAIL, warning, seconds=elapsed())
        # a scrape of the gateway happens every SCRAPE_INTERVAL
        try:
            after = poll(lambda: value if (value := _instant(settings, PUSHED_GENERATIONS)) > before else None,
                         timeout_s=wait_s, wait_s=1)
        except PollTimedOut:
            after = before
    ran, outcome = proof_outcome(run.returncode, run.stderr)
    if not ran:
        return CheckResult("pushed metrics", Status.FAIL, outcome, seconds=elapsed())
    if after <= before:
        return CheckResult("pushed metrics", Status.FAIL,
                           f"{outcome}, but {PUSHED_GENERATIONS} stayed at {before:g} for {wait_s:g} s;"
                           " is the pushgateway job up (`invoke monitoring.check` targets)?", seconds=elapsed())
    return CheckResult("pushed metrics", Status.PASS,
                       f"{outcome}; {PUSHED_GENERATIONS} went {before:g} → {after:g} in Prometheus",
                       seconds=elapsed(), data={"before": before, "after": after})


def check(settings: Settings, project: Path | None = None, *, env_file: Path) -> list[CheckResult]:
    return [*static_checks(settings, project), metrics_coverage(settings, project), targets(settings),
            pushed_generation(settings, env_file=env_file)]


# --- snapshots ---------------------------------------------------------------------------
def query_range(settings: Settings, expr: str, minutes: int, step_s: int) -> list[dict]:
    end = time.time()
    with clients.map_exceptions("prometheus", f"query_range failed at {settings.prometheus_url}",
                                fix="`invoke monitoring.up`"):
        response = requests.get(f"{settings.prometheus_url}/api/v1/query_range", timeout=HTTP_TIMEOUT_S,
                                params={"query": expr, "start": end - minutes * 60, "end": end,
                                        "step": step_s})
        body = response.json()
    if body.get("status") != "success":
        raise ServiceError("prometheus", f"query {expr!r} failed: {body.get('error')}")
    return body["data"]["result"]


def _legend(panel: Panel, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), panel.legend)
    return text or ",".join(f"{k}={v}" for k, v in labels.items()) or panel.title


def draw(panel: Panel, series: list[dict], path: Path, minutes: int) -> int:
    """One PNG for one panel; returns the number of points drawn."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=100)
    points = 0
    now = time.time()
    for item in series:
        xs = [(float(t) - now) / 60 for t, _ in item["values"]]
        ys = [float(v) for _, v in item["values"]]
        points += len(ys)
        axes.plot(xs, ys, marker="." if len(ys) < 30 else None, label=_legend(panel, item["metric"]))
    if points:
        latest = float(series[0]["values"][-1][1])
        axes.set_title(f"{panel.title}  (latest {latest:.4g} {panel.unit})", loc="left")
        axes.legend(loc="upper left", fontsize="small")
    else:
        axes.set_title(panel.title, loc="left")
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlim(-minutes, 0)
    axes.set_xlabel("minutes ago")
    axes.set_ylabel(panel.unit)
    axes.grid(alpha=0.3)
    figure.text(0.01, 0.01, panel.expr, fontsize=7, family="monospace", alpha=0.7)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return points


def snapshot(settings: Settings, out_dir: Path, *, minutes: int = 15, step_s: int = 15) -> list[CheckResult]:
    results = []
    for panel in PANELS:
        with timed() as elapsed:
            series = query_range(settings, panel.expr, minutes, step_s)
            slug = re.sub(r"[^a-z0-9]+", "-", panel.title.lower()).strip("-")
            path = out_dir / f"panel-{panel.id}-{slug}.png"
            points = draw(panel, series, path, minutes)
        status = Status.PASS if points else Status.NOT_CHECKED
        detail = (f"{path}: {len(series)} series, {points} points" if points
                  else f"{path}: no data yet for {panel.expr!r} (traffic needed, e.g. a few generations)")
        results.append(CheckResult(f"panel {panel.id} {panel.title}", status, detail, critical=False,
                                   seconds=elapsed(), data={"file": str(path), "series": len(series),
                                                            "points": points}))
    return results


def main(argv: list[str] | None = None) -> int:
    """`python -m devmatrix.checks.monitoring [--check]`: write (or check) the compose Prometheus config."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Write (or --check) {prometheus_config.COMPOSE_CONFIG}.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    args = parser.parse_args(argv)
    return run_main(lambda: _write_or_check(check=args.check))


def _write_or_check(*, check: bool) -> int:
    path, wanted = prometheus_config.COMPOSE_CONFIG, compose_config()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != wanted:
            print(f"{path} is stale; regenerate it: python -m devmatrix.checks.monitoring", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
