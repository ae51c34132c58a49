"""Faults: every service of the native stack killed and frozen during real work (`nox -s bench bench_chaos`).

Runs the chaos matrix (what `invoke chaos` and `nox -s chaos` run) plus `invoke validate`
with each store frozen, and writes service x fault -> what the user saw, seconds to
detect, seconds to healthy and rows lost into docs/benchmarks.md. Targets: detection
<= 10 s; recovery <= 2x the service's cold start plus the supervisor's backoff; 0 lost.
"""

from __future__ import annotations

from devmatrix.config import env_file_path, load_settings
from devmatrix.ops import chaos
from devmatrix.ops.bench_report import write_section

DETECT_TARGET_S = 10.0
# Cold start measured by `invoke infra.up` on this machine kind (docs/benchmarks.md, stack
# section), plus the supervisor's first restart back-off (1 s) and its startsecs (1 s).
COLD_START_S = {"postgres": 0.7, "redis": 0.1, "chroma": 0.8, "llm": 1.2, "api": 2.0, "supervisor": 1.0}
SUPERVISOR_BACKOFF_S = 2.0


def _recovery_target(row: chaos.ChaosRow) -> float:
    if row.fault == "freeze":  # healthy once resumed: when the work ended, or after FREEZE_S
        return max(row.seconds, chaos.FREEZE_S) + 2 * COLD_START_S[row.service]
    return 2 * COLD_START_S[row.service] + SUPERVISOR_BACKOFF_S


def main() -> None:
    settings = load_settings()
    rows = [chaos.run_case(settings, env_file_path(), *case, echo=print)
            for case in chaos.MATRIX + chaos.VALIDATE_MATRIX]
    lines = ["| service | fault | during | user saw | detect s | healthy s | healed by | rows lost |"
             " records lost | targets |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        missed = []
        if r.detect_s is not None and r.detect_s > DETECT_TARGET_S:
            missed.append(f"detect {r.detect_s:.1f} > {DETECT_TARGET_S:g} s")
        if r.healthy_s is None or r.healthy_s > _recovery_target(r):
            missed.append(f"healthy {r.healthy_s} > {_recovery_target(r):.1f} s")
        if r.rows_lost or r.records_lost:
            missed.append("data lost")
        missed += chaos.broken_promises(r)
        saw = f"{r.code} " + r.message[:90].replace("|", "/") + ("…" if len(r.message) > 90 else "")
        lines.append(f"| {r.service} | {r.fault} | {r.during} | {saw} |"
                     f" {'-' if r.detect_s is None else f'{r.detect_s:.1f}'} |"
                     f" {'-' if r.healthy_s is None else f'{r.healthy_s:.1f}'} | {r.healed_by} |"
                     f" {r.rows_lost} | {r.records_lost} | {'; '.join(missed) or 'met'} |")
    body = "\n".join([
        "`invoke chaos` on the native stack: a fault injected into one service of this stack (SIGKILL, or",
        "SIGSTOP, resumed when the work ends; the API and the supervisor after"
        f" {chaos.FREEZE_S:g} s) while real work runs. *user saw*:",
        "exit code (CLI) or HTTP status (API; 0 = the connection itself failed) and the message. *detect*:",
        "fault → the user's error (`-`: the work succeeded anyway, e.g. a retry rode out the restart).",
        "*healthy*: fault → every core service answers its readiness probe again. Rows and records lost:",
        "committed `code_generation_logs` rows and completed workflow tasks, and Chroma records, present",
        "before the fault and missing after.",
        "",
        f"Targets: detection ≤ {DETECT_TARGET_S:g} s; recovery ≤ 2× the service's cold start plus the",
        f"supervisor's back-off ({SUPERVISOR_BACKOFF_S:g} s), or, for a freeze, the freeze itself plus that;",
        "0 rows lost.",
        "",
        *lines,
    ])
    write_section("chaos", "Faults: kill and freeze during real work", body)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
