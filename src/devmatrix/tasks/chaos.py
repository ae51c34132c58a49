"""`invoke chaos`: kill or freeze one service of this native stack during real work, and measure."""

from __future__ import annotations

from rich.table import Table

from devmatrix import chaos as drill
from devmatrix.chaos.faults import FAULTS
from devmatrix.chaos.work import WORKLOADS
from devmatrix.errors import ChecksFailed
from devmatrix.tasks._common import Choice, console, echo, env_file, print_json, settings, task


@task(help={
    "service": f"what to hit: {', '.join(drill.SERVICES)} (default: the whole matrix of `nox -s chaos`)",
    "fault": f"{' or '.join(FAULTS)}: SIGKILL, or SIGSTOP (resumed when the work ends; the API and"
             f" the supervisor after {drill.FREEZE_S:g} s)",
    "during": f"the work it hits: {', '.join(WORKLOADS)} (api = POST /api/v1/generate)",
    "json": "print the rows as JSON (for scripts)",
    "dry": "print the cases that would run; touch nothing",
}, checks={"service": Choice(drill.SERVICES), "fault": Choice(tuple(FAULTS)), "during": Choice(tuple(WORKLOADS))})
def chaos(c, service="", fault="kill", during="generate", json=False, dry=False):
    """Fault drill (native stack only): kill/freeze a service during real work; one row per case.

    Each row: what the user saw (exit code or HTTP status, message), seconds to detect,
    seconds to healthy, and committed Postgres rows / Chroma records before and after.
    Exit 1 when a case broke a promise (a lost row, no recovery, a missed deadline).
    """
    cases = [(service, fault, during)] if service else drill.MATRIX
    if dry:
        for case in cases:
            console.print("  would run: {} {} during {}".format(*case))
        return
    s = settings()
    rows = [drill.run_case(s, env_file(), *case, echo=(lambda _: None) if json else echo) for case in cases]
    if json:
        print_json([r.to_dict() for r in rows])
    else:
        console.print(_table(rows), width=max(console.width, 180))
    broken = [r for r in rows if drill.broken_promises(r)]
    if broken:
        raise ChecksFailed(f"{len(broken)} of {len(rows)} case(s) broke a promise (the rows above)")


def _table(rows: list[drill.ChaosRow]) -> Table:
    table = Table(title="chaos drill", title_justify="left")
    for column in ("case", "user saw", "detect s", "healthy s", "healed by", "rows", "records", "promises"):
        table.add_column(column, overflow="fold")
    for r in rows:
        promises = "; ".join(drill.broken_promises(r)) or "[green]kept[/]"
        saw = f"{r.code} {r.message}" + (f" (resumed: {r.resumed})" if r.resumed is not None else "")
        table.add_row(f"{r.service} {r.fault} during {r.during}", saw,
                      "-" if r.detect_s is None else f"{r.detect_s:.1f}",
                      "-" if r.healthy_s is None else f"{r.healthy_s:.1f}", r.healed_by,
                      f"{r.rows_before}→{r.rows_after}", f"{r.records_before}→{r.records_after}", promises)
    return table
