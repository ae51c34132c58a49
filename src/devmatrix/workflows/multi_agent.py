"""MultiAgentWorkflow (seed §4.2): run a task plan with specialists, in parallel where it can.

Tasks whose dependencies are done run together, at most ``max_concurrency`` at
a time. Every finished task is persisted (SharedScratchpad → Postgres) before
the next wave starts, so running again with the same workflow_id skips what is
already done. A failed task (the model's output) fails only its dependents; other
branches finish. A service that is down or frozen stops the run: the workflow is
`interrupted` (WorkflowInterrupted, exit 3) and `--resume` finishes it later.

Given a JobClient (``nodes=``), the tasks run on the workers instead (workflows/dispatch.py):
this process keeps the DAG and sends each ready task as a job, at most ``max_concurrency`` in
flight, advancing from the jobs' rows in Postgres; a task sent before this process died goes
on, and the resume takes it over rather than running it again.
"""

from __future__ import annotations

import ast
import contextlib
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.orchestrator import OrchestratorAgent, PlanResult
from devmatrix.agents.plan import Plan, PlannedTask, parse_plan
from devmatrix.agents.remedies import CLI_WORKFLOW
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, ServiceError, WorkflowError, WorkflowInterrupted
from devmatrix.jobs._constants import WAIT_POLL_S
from devmatrix.state.scratchpad import SharedScratchpad, TaskRecord
from devmatrix.workflows.dispatch import WorkerNodes, fill, record_of

DEFAULT_CONCURRENCY = 2
ARTIFACT_CONTEXT_CHARS = 4000  # how much of a dependency's code a specialist is shown

_INSTRUCTIONS = {
    "implementation": "Write the Python implementation for this task.",
    "test": "Write pytest tests for the code below. Import it from its module.",
    "api": "Write FastAPI endpoints that expose the code below.",
    "docs": "Write a Markdown document (as a Python module docstring) for the code below.",
}


# Where each kind of task writes, through the agent's own "save it in <path>" hint; an
# implementation is named after its code (calculator.py). Without this a test task whose
# first function repeats the implementation's name would overwrite the implementation.
_FILE_FOR = {"test": "tests/test_{id}.py", "api": "api_{id}.py", "docs": "docs_{id}.py"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class MultiAgentWorkflow:
    def __init__(self, orchestrator: OrchestratorAgent, scratchpad: SharedScratchpad, *,
                 agent: object | None = None, settings: Settings | None = None,
                 max_concurrency: int = DEFAULT_CONCURRENCY, nodes: WorkerNodes | None = None,
                 on_event: Callable[[str, str, dict], None] = lambda *_: None) -> None:
        self.orchestrator = orchestrator
        self.scratchpad = scratchpad
        self.settings = settings or orchestrator.settings
        self._agent = agent
        self.max_concurrency = max(1, max_concurrency)
        self.on_event = on_event  # (event, task_id, details): progress for CLIs
        self.nodes = nodes  # the workers run the tasks (None: threads of this process)

    @property
    def agent(self):  # the CodeGenerationAgent every specialist uses, built on first use
        if self._agent is None:
            self._agent = CodeGenerationAgent(
                settings=self.settings, postgres_manager=self.scratchpad.postgres,
                llm_client=self.orchestrator.client, remedies=CLI_WORKFLOW,
            )
        return self._agent

    def execute(self, user_request: str, workspace_id: str, *,
                workflow_id: str | None = None) -> dict:
        """Plan (or reload the plan of ``workflow_id``), then run every task not yet done."""
        started = time.perf_counter()
        workflow_id, planned = self._plan(user_request, workspace_id, workflow_id)
        plan = planned.plan
        done = self.scratchpad.completed_tasks(workflow_id)
        for task_id in done:
            self.on_event("skipped (already done)", task_id, {})
        records = dict(done)
        try:
            if self.nodes is None:
                self._run(plan, workflow_id, workspace_id, records)
            else:
                self._run_on_workers(plan, workflow_id, workspace_id, records)
        except ServiceError as error:
            self._mark_interrupted(workflow_id)
            raise WorkflowInterrupted(workflow_id, error) from error
        failed = [r for r in records.values() if r.status != "completed"]
        status = "completed" if not failed else "failed"
        self.scratchpad.finish_workflow(workflow_id, status)
        if not failed:
            self.scratchpad.clear(workflow_id)
        ordered = [records[t] for t in plan.sorter().static_order() if t in records]
        return {
            "success": not failed,
            "workflow_id": workflow_id,
            "workspace_id": workspace_id,
            "plan_source": planned.source,
            "completed_tasks": [_public(r) for r in ordered if r.status == "completed"],
            "failed_tasks": [_public(r) for r in ordered if r.status != "completed"],
            "resumed_tasks": sorted(done),
            "usage": {"input_tokens": planned.input_tokens + sum(r.input_tokens for r in ordered),
                      "output_tokens": planned.output_tokens + sum(r.output_tokens for r in ordered)},
            "cost_usd": round(planned.cost_usd + sum(r.cost_usd for r in ordered), 6),
            "duration_s": round(time.perf_counter() - started, 3),
        }

    # --- planning ------------------------------------------------------------------
    def _plan(self, user_request: str, workspace_id: str,
              workflow_id: str | None) -> tuple[str, PlanResult]:
        if workflow_id:
            row = self.scratchpad.load_workflow(workflow_id)
            if row is None:
                raise WorkflowError(f"no workflow {workflow_id!r} to resume",
                                    fix="check the id printed by the first run")
            return workflow_id, PlanResult(parse_plan(row["plan"]), row["plan_source"])
        planned = self.orchestrator.plan(user_request)
        workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
        self.scratchpad.start_workflow(workflow_id, user_request, workspace_id,
                                       planned.plan.model_dump(), planned.source)
        self.on_event("planned", workflow_id, {"tasks": len(planned.plan.tasks),
                                               "source": planned.source})
        return workflow_id, planned

    # --- running -------------------------------------------------------------------
    def _run(self, plan: Plan, workflow_id: str, workspace_id: str,
             records: dict[str, TaskRecord]) -> None:
        sorter = plan.sorter()
        sorter.prepare()
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            while sorter.is_active():
                for task_id in sorter.get_ready():
                    if task_id in records:  # done before (resume), failed or skipped
                        sorter.done(task_id)
                        continue
                    task = plan.task(task_id)
                    context = self._context(task, records, self.settings.workspace_dir / workspace_id)
                    self.on_event("started", task_id, {"type": task.type})
                    running[pool.submit(self._run_task, task, context, workflow_id,
                                        workspace_id)] = task_id
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task_id = running.pop(future)
                    try:
                        record = future.result()
                    except ServiceError:
                        # the run stops here; branches still running may finish: keep their work
                        self._drain(running, workflow_id, records)
                        raise
                    self._record(plan, workflow_id, record, records)
                    sorter.done(task_id)

    def _record(self, plan: Plan, workflow_id: str, record: TaskRecord, records: dict[str, TaskRecord]) -> None:
        """Keep a finished task (Postgres first); a failed one skips its dependents."""
        records[record.task_id] = record
        self.scratchpad.persist_task(workflow_id, record)
        self.on_event(record.status, record.task_id, {"files": record.files, "error": record.error,
                                                      "error_fix": record.error_fix})
        if record.status != "completed":
            for dependent in plan.dependents(record.task_id):
                records[dependent] = TaskRecord(dependent, plan.task(dependent).type, "skipped",
                                                error=f"dependency {record.task_id!r} failed")

    def _run_on_workers(self, plan: Plan, workflow_id: str, workspace_id: str,
                        records: dict[str, TaskRecord]) -> None:
        """The same DAG, each ready task sent as a job; what advances it is the jobs' rows.

        At most ``max_concurrency`` tasks are in flight: the others wait here, not in the queue.
        A task an earlier run sent (this process's predecessor died) is taken over: its job is
        waited for, or its result kept; only a task whose job failed is sent again."""
        nodes = self.nodes
        assert nodes is not None
        sorter = plan.sorter()
        sorter.prepare()
        earlier = nodes.earlier(workflow_id)
        waiting: list[str] = []
        in_flight: dict[str, str] = {}  # task id -> job id
        # a scheduler, not a wait for one state (so not retry.poll): each round sends ready tasks and reads
        # which jobs ended; NODE_WAIT_S bounds each task
        while sorter.is_active():
            for task_id in sorter.get_ready():
                if task_id in records:  # done before (resume), failed or skipped
                    sorter.done(task_id)
                elif task_id in earlier and nodes.take_over(earlier[task_id]):
                    in_flight[task_id] = earlier[task_id]
                    self.on_event("taken over (sent before)", task_id, {"job_id": earlier[task_id]})
                else:
                    waiting.append(task_id)
            while waiting and len(in_flight) < self.max_concurrency:
                task = plan.task(waiting.pop(0))
                context = self._context(task, records, self.settings.workspace_dir / workspace_id)
                in_flight[task.id] = nodes.send(workflow_id, workspace_id, task.id, task.type,
                                                task_request(task, context))
                self.on_event("sent to the workers", task.id, {"type": task.type, "job_id": in_flight[task.id]})
            if not in_flight:
                continue
            ended = nodes.ended(in_flight)
            if not ended:
                time.sleep(WAIT_POLL_S)
            for task_id, job in ended.items():
                del in_flight[task_id]
                self._record(plan, workflow_id, record_of(task_id, plan.task(task_id).type, job), records)
                sorter.done(task_id)

    def _drain(self, running: dict[Future, str], workflow_id: str, records: dict[str, TaskRecord]) -> None:
        """Wait for the branches still running and persist those that completed, so a resume
        does not redo them; their own service errors add nothing to the first one."""
        for future in list(running):
            task_id = running.pop(future)
            try:
                record = future.result()
            except DevMatrixError:
                continue
            if record.status == "completed":
                records[task_id] = record
                try:
                    self.scratchpad.persist_task(workflow_id, record)
                    self.on_event(record.status, task_id, {"files": record.files, "error": None})
                except ServiceError:
                    return  # the store is the one down: the resume redoes this task

    def _mark_interrupted(self, workflow_id: str) -> None:
        """Best effort: when Postgres itself is down the row keeps 'running'; resume works the same."""
        with contextlib.suppress(ServiceError):
            self.scratchpad.finish_workflow(workflow_id, "interrupted")

    def _context(self, task: PlannedTask, records: dict[str, TaskRecord], root: Path) -> str:
        """The dependencies' code, each headed by its files relative to the workspace (the same
        plan in another directory is the same prompt, and the machine's paths stay out of it)
        and by the import line that reaches it from the workspace root."""
        parts = []
        for dep in task.depends_on:
            if dep not in records:
                continue
            record = records[dep]
            files = [_relative(f, root) for f in record.files]
            header = f"# {', '.join(files) or 'code'} (from task {dep}, {record.type})"
            if hint := _import_hint(files, record.artifact):
                header += f"\n# import it with: {hint}"
            parts.append(f"{header}\n{record.artifact[:ARTIFACT_CONTEXT_CHARS]}")
        return "\n\n".join(parts)

    def _run_task(self, task: PlannedTask, context: str, workflow_id: str,
                  workspace_id: str) -> TaskRecord:
        record = TaskRecord(task.id, task.type, "failed", started_at=_now())
        start = time.perf_counter()
        self.scratchpad.set_state(workflow_id, task.id, status="running", started_at=record.started_at)
        try:
            result = self.agent.generate(user_request=task_request(task, context), workspace_id=workspace_id,
                                         git_enabled=True, auto_approve=True)
        except ServiceError:
            raise
        except DevMatrixError as error:  # an LLM failure in this branch: report, go on
            record.error, record.error_fix = error.message, error.fix
        else:
            fill(record, result)
        record.finished_at = _now()
        record.duration_s = round(time.perf_counter() - start, 3)
        self.scratchpad.set_state(workflow_id, task.id, status=record.status,
                                  files=record.files, commit=record.git_commit_hash)
        return record


def task_request(task: PlannedTask, context: str) -> str:
    """What a specialist is asked for one task: its kind's instruction, where to save it, the task,
    and its dependencies' code."""
    request = _INSTRUCTIONS[task.type]
    if task.type in _FILE_FOR:
        request += f" Save it in {_FILE_FOR[task.type].format(id=re.sub(r'[^A-Za-z0-9_]', '_', task.id))}."
    request += f"\nTask: {task.description}"
    if context:
        request += f"\n\nCode from the tasks this one depends on:\n{context}"
    return request


def _import_hint(files: list[str], code: str) -> str | None:
    """``from module import name, …`` for a dependency's public top-level names. Without it a
    small model guesses the module (``from task import …``, from the header) and its tests
    fail to import: evidence that says nothing about the code."""
    module = next((f[:-3].replace("/", ".") for f in files
                   if f.endswith(".py") and not f.startswith("tests/")), None)
    if module is None or not module.replace(".", "").replace("_", "").isalnum():
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    names = [node.name for node in tree.body
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
             and not node.name.startswith("_")]
    return f"from {module} import {', '.join(names)}" if names else None


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root.resolve()).as_posix()
    except ValueError:  # written elsewhere (a base_path of its own): shown as it is
        return path


def _public(record: TaskRecord) -> dict:
    return {"id": record.task_id, "type": record.type, "status": record.status,
            "files": record.files, "commit": record.git_commit_hash, "error": record.error,
            "error_fix": record.error_fix,
            "started_at": record.started_at, "finished_at": record.finished_at,
            "duration_s": record.duration_s, "job_id": record.job_id, "worker": record.worker}
