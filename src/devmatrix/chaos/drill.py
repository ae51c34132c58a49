"""One chaos case: a workload, a fault on one service during it, what the user saw, the heal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from devmatrix import clients
from devmatrix.chaos import faults
from devmatrix.chaos.work import WORKLOADS, Seen, Workflow, Workload, workload
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, UsageError
from devmatrix.rag.store import close_client
from devmatrix.retry import PollTimedOut, poll
from devmatrix.stack import registry
from devmatrix.stack.providers import get_provider

# The native stack's supervisord is no registry service, but killing or freezing it is a drill too.
SUPERVISOR = "supervisor"
SERVICES = (*dict.fromkeys(name for name, _, _ in registry.drills()), SUPERVISOR)
# A frozen store or LLM server stays frozen until the work ends (its own deadline bounds
# that): the work must notice it, whenever it next calls. A frozen API or supervisor is
# resumed after FREEZE_S: no deadline of ours runs inside them, so the work just waits.
FREEZE_S = 15.0
FROZEN_UNTIL_THE_WORK_ENDS = set(registry.with_deadline())
# How long the supervisor may take to bring a killed server back before chaos runs
# `invoke infra.up` itself (the supervisor backs off 1, 2, 3 s between retries).
SELF_HEAL_WAIT_S = 30.0
HEAL_TIMEOUT_S = 120.0
# Where in the workload the fault lands: after the CLI's interpreter start-up, while
# the first service calls are in flight.
INJECT_AFTER_S = {"generate": 2.5, "api": 0.3, "workflow": 2.5, "rag": 1.2, "backup": 2.5, "validate": 0.0}
# ... and, for work that says when it is under way (a workflow: its row exists), at most this
# long more: on a busy machine a CLI start-up alone can take 20 s.
UNDER_WAY_WITHIN_S = 60.0
DRILL_POLL_S = 0.1  # how often the drill looks at its work
# The cases `nox -s chaos` runs: each registry service's drills (both faults, each during the
# work that depends on that service most), and the supervisor's.
MATRIX = [*registry.drills(), (SUPERVISOR, "kill", "backup"), (SUPERVISOR, "freeze", "workflow")]
# `invoke validate` with one service frozen: exit 1 naming it, within 10 s of its checks (work.Validate).
VALIDATE_MATRIX = [(service, "freeze", "validate") for service in registry.with_deadline()]
Echo = Callable[[str], None]


@dataclass
class ChaosRow:
    service: str
    fault: str
    during: str
    # "ok": the work succeeded anyway; "warned": it succeeded and said what was not recorded;
    # "error": the user got an error
    outcome: str
    code: int  # exit code or HTTP status the user saw
    message: str
    detect_s: float | None  # fault → the user's error; None when the work succeeded
    healthy_s: float | None  # fault → every core service healthy again
    healed_by: str
    seconds: float  # the workload's wall time
    deadline_s: float
    rows_before: int
    rows_after: int
    rows_lost: int
    records_before: int
    records_after: int
    records_lost: int
    resumed: bool | None = None  # an interrupted workflow, resumed after healing
    resume_message: str | None = None  # what the resume printed

    @property
    def deadline_met(self) -> bool:
        return self.seconds <= self.deadline_s

    def to_dict(self) -> dict:
        return {**asdict(self), "deadline_met": self.deadline_met}


def run_case(settings: Settings, env_file: Path, service: str, fault: str, during: str, *,
             freeze_s: float | None = None, echo: Echo = lambda _: None) -> ChaosRow:
    """Inject ``fault`` into ``service`` while ``during`` runs; measure; heal; clean up."""
    _check_choice("--service", service, SERVICES)
    _check_choice("--fault", fault, faults.FAULTS)
    _check_choice("--during", during, WORKLOADS)
    provider = get_provider(settings, env_file=env_file, echo=echo)
    if provider.name != "native":
        raise DevMatrixError(f"chaos injects faults into processes this machine runs; the provider is"
                             f" {provider.name!r}, whose servers are not ours to kill",
                             fix="run it on a native stack (DEVMATRIX_PROVIDER=native)")
    sick = [s.name for s in provider.status() if not s.healthy]
    if sick:
        raise DevMatrixError(f"the stack is not healthy before the drill: {', '.join(sick)}",
                             fix="`invoke infra.up` (then `invoke validate`)")
    before = snapshot(settings)
    work = workload(during, settings, env_file)
    if freeze_s is None:
        freeze_s = work.freeze_s if service in FROZEN_UNTIL_THE_WORK_ENDS else FREEZE_S
    echo(f"{service} {fault} during {during}: starting the work …")
    work.start()
    time.sleep(INJECT_AFTER_S[during])
    wait_under_way(work)
    injected = faults.inject(provider.supervisor, service, fault)  # type: ignore[attr-defined]
    hit = time.monotonic()
    echo(f"{fault} {service} (pids {', '.join(map(str, injected.pids))})")
    monitor = _HealthMonitor(provider, hit)
    try:
        # hand-written on purpose: not a wait for a state with a deadline but the drill's clock (thaw
        # a frozen service freeze_s after the fault while the work runs); the work has its own
        # deadline (its hang_s), and work.wait() below ends the drill with it
        while not work.done():
            if fault == "freeze" and not injected.thawed and time.monotonic() - hit >= freeze_s:
                faults.thaw(injected)
                echo(f"thawed {service} after {freeze_s:g} s")
            time.sleep(DRILL_POLL_S)
        seen = work.wait()
    finally:
        faults.thaw(injected)
    detect_s = None if seen.ok and not seen.warned else round((work.ended or time.monotonic()) - hit, 2)
    healthy_s, healed_by = _heal(provider, service, fault, hit, env_file, echo, monitor)
    resumed = resume_seen = None
    if during == "workflow" and seen.code == 3:
        resume_seen = _resume(work, seen, echo)
        resumed = resume_seen is not None and resume_seen.ok
    after = snapshot(settings)
    _clean_up(settings, work)
    return ChaosRow(
        service, fault, during, _outcome(seen), seen.code, _one_line(seen), detect_s,
        healthy_s, healed_by, round(seen.seconds, 2), work.deadline_s,
        len(before["rows"]), len(after["rows"]), len(before["rows"] - after["rows"]),
        len(before["records"]), len(after["records"]), len(before["records"] - after["records"]), resumed,
        _one_line(resume_seen) if resume_seen else None)


def broken_promises(row: ChaosRow) -> list[str]:
    """What a case must show (the chaos tier asserts it): empty when every promise was kept."""
    broken = []
    if not row.deadline_met:
        broken.append(f"took {row.seconds:g} s, over its {row.deadline_s:g} s deadline")
    if row.outcome in ("error", "warned") and not _names_the_service(row):
        broken.append(f"the error does not name {row.service} and the fix")
    if row.healthy_s is None:
        broken.append("the stack did not recover")
    if row.rows_lost or row.records_lost:
        broken.append(f"lost {row.rows_lost} committed rows and {row.records_lost} records")
    if row.resumed is False:
        broken.append("the interrupted workflow did not resume to success")
    if row.during == "validate" and row.outcome == "ok":
        broken.append(f"validate passed with {row.service} {row.fault}d")
    return broken


def _names_the_service(row: ChaosRow) -> bool:
    """A client of the killed/frozen API itself sees the transport fail (it cannot be told more);
    the supervisor is never on a request's path. Every other error names its service and the fix."""
    if row.service == "api" and row.during == "api" and row.code == 0:
        return True
    named = row.service if row.service != "supervisor" else ""
    return named in row.message and "fix:" in row.message


def _outcome(seen: Seen) -> str:
    return "warned" if seen.warned else "ok" if seen.ok else "error"


def _check_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{flag} {value!r} is not one of the choices", fix=f"choose from: {', '.join(choices)}")


def _one_line(seen: Seen) -> str:
    return " ".join(seen.message.split())  # whole: a cut message could lose its fix


def _heal(provider, service: str, fault: str, hit: float, env_file: Path, echo: Echo,
          monitor: _HealthMonitor) -> tuple[float | None, str]:
    """Wait for the stack to be healthy by itself; else run `invoke infra.up`, as the RUNBOOK says."""
    if fault == "freeze":
        how = "resumed (SIGCONT)"
    elif service == "supervisor":
        how = "needs `invoke infra.up`"
    else:
        how = "supervisor restart"
    if how != "needs `invoke infra.up`" and monitor.wait(SELF_HEAL_WAIT_S):
        return monitor.healthy_s, how
    monitor.stop()
    echo("running `invoke infra.up` to heal the stack …")
    subprocess.run([str(Path(sys.executable).parent / "invoke"), "infra.up"], check=False,
                   capture_output=True, text=True, timeout=HEAL_TIMEOUT_S,
                   env={**os.environ, "DEVMATRIX_ENV_FILE": str(env_file.resolve())})
    if _HealthMonitor(provider, hit).wait(10):
        return round(time.monotonic() - hit, 2), "`invoke infra.up`"
    return None, "NOT healed"


def wait_under_way(work: Workload, timeout_s: float = UNDER_WAY_WITHIN_S) -> bool:
    """Until the work is under way (or already done), at most ``timeout_s``: whether it is. Not
    under way by then, the fault is injected anyway (the report shows what the work saw)."""
    try:
        return bool(poll(lambda: (work.under_way() or work.done()) or None, timeout_s=timeout_s,
                         wait_s=DRILL_POLL_S))
    except PollTimedOut:
        return False


class _HealthMonitor:
    """Probes the core services from the fault on, and notes when all are healthy again."""

    def __init__(self, provider, since: float) -> None:
        self.provider, self.since = provider, since
        self.healthy_s: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        time.sleep(0.5)  # a killed process needs a moment to release its port
        while not self._stop.is_set():
            try:
                if all(s.healthy for s in self.provider.status()):
                    self.healthy_s = round(time.monotonic() - self.since, 2)
                    return
            except DevMatrixError:
                pass
            self._stop.wait(0.25)

    def wait(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return self.healthy_s is not None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _resume(work: Workload, seen: Seen, echo: Echo) -> Seen | None:
    workflow_id = seen.payload.get("workflow_id")
    if not workflow_id or not isinstance(work, Workflow):
        return None
    echo(f"resuming workflow {workflow_id} …")
    return work.resume(workflow_id)


def snapshot(settings: Settings) -> dict[str, set[str]]:
    """The committed record: log row ids, completed workflow tasks, and Chroma record ids."""
    conn = clients.postgres_connect(settings)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 'log:' || id FROM code_generation_logs")
            rows = {r[0] for r in cursor.fetchall()}
            cursor.execute("SELECT 'task:' || workflow_id || '/' || task_id FROM workflow_tasks"
                           " WHERE status = 'completed'")
            rows |= {r[0] for r in cursor.fetchall()}
        conn.rollback()
    finally:
        conn.close()
    client = clients.chroma_client(settings)
    try:
        collection = client.get_collection(settings.chromadb_collection)
        records = set(collection.get(include=[])["ids"])
    finally:
        close_client(client)
    return {"rows": rows, "records": records}


def _clean_up(settings: Settings, work: Workload) -> None:
    """The drill's own rows, workspace and backup folder; nothing it did not make."""
    conn = clients.postgres_connect(settings)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("DELETE FROM workflow_tasks WHERE workflow_id IN"
                           " (SELECT workflow_id FROM workflows WHERE workspace_id = %s)", (work.workspace,))
            cursor.execute("DELETE FROM workflows WHERE workspace_id = %s", (work.workspace,))
            cursor.execute("DELETE FROM code_generation_logs WHERE workspace_id = %s", (work.workspace,))
    finally:
        conn.close()
    shutil.rmtree(settings.workspace_dir / work.workspace, ignore_errors=True)
    folder = getattr(work, "folder", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["MATRIX", "SERVICES", "VALIDATE_MATRIX", "ChaosRow", "broken_promises", "run_case"]
