"""`devmatrix`: the product's command line. Thin: parse, call, print, exit.

  devmatrix generate "Write fibonacci(n) with memoization" [--workspace ID] [--rag]
                     [--min-score N] [--review | --auto-approve] [--json]
  devmatrix workflow "Create a REST API for a todo list" [--workspace ID] [--resume ID]
                     [--min-score N] [--json]
  devmatrix check PATH [--json]
  devmatrix jobs [--limit N] [--json]

`generate` and `workflow` run on the workers (devmatrix.jobs) when any answers a ping, in this
process otherwise (or with --in-process). Either way a line (and `executed_by` in --json) says which.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from devmatrix.agents.approval import gate_line
from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.agents.remedies import CLI_GENERATE
from devmatrix.agents.requests import MAX_REQUEST_CHARS, require_rag_enabled
from devmatrix.agents.result import GenerationResult
from devmatrix.boundary import run_main
from devmatrix.config import Settings, load_settings
from devmatrix.errors import DevMatrixError, UsageError, WorkspaceError
from devmatrix.evidence import Sandbox, gather
from devmatrix.jobs import PING_TIMEOUT_S
from devmatrix.jobs.store import MAX_RECENT, Job, JobStore
from devmatrix.jobs.submit import JobClient
from devmatrix.llm import create_llm_client
from devmatrix.monitoring.logging import configure_logging
from devmatrix.monitoring.push import CLI_JOB, push
from devmatrix.rag.store import require_examples
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import WORKFLOW_ID_MAX_CHARS, SharedScratchpad
from devmatrix.workflows.dispatch import WorkerNodes
from devmatrix.workflows.multi_agent import MultiAgentWorkflow
from devmatrix.workspace import check_workspace_id


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devmatrix",
        description="DevMatrix Local: generate code with an LLM into a git workspace, logged in"
                    " Postgres. Settings come from .env.test (see .env.test.example).",
        epilog=EXIT_CODES,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="one request, end to end",
                              description="Generate, check, review, write, commit and log code"
                                          " for one request.")
    gen.add_argument("request", type=_request, help="what to build, in plain words")
    gen.add_argument("--workspace", default="default", type=_workspace,
                     help="workspace id: a git repo under WORKSPACE_DIR (default: default)")
    gen.add_argument("--rag", action="store_true", help="ground the prompt in retrieved examples")
    gen.add_argument("--no-git", action="store_true", help="write the file but do not commit")
    gen.add_argument("--no-cache", action="store_true",
                     help="ask the model afresh instead of serving an identical earlier call from Redis")
    _in_process_flag(gen, "run the generation in this process even when a worker answers (its metrics are"
                          " this command's own)")
    _gate_flags(gen)
    approval = gen.add_mutually_exclusive_group()
    approval.add_argument("--review", dest="auto_approve", action="store_false",
                          help="below the gate, keep the code as pending_review for a person"
                               " (exit 0, not committed)")
    approval.add_argument("--auto-approve", dest="auto_approve", action="store_true", default=True,
                          help="the gate decides alone: below it the code is rejected (exit 1, not"
                               " committed); the default")
    gen.add_argument("--json", action="store_true", help="print the whole result as JSON")
    flow = commands.add_parser("workflow", help="plan tasks and run them with specialists",
                               description="Split a request into typed tasks (implementation,"
                                           " test, api, docs) and run them, in parallel where"
                                           " independent. Resumable.")
    flow.add_argument("request", nargs="?", default="", type=_utf8_text, help="what to build (omit with --resume)")
    flow.add_argument("--workspace", default=None, type=_workspace,
                      help="workspace id (default: a new one per workflow)")
    flow.add_argument("--resume", metavar="WORKFLOW_ID", type=_workflow_id,
                      help="continue a workflow, skipping its completed tasks")
    flow.add_argument("--concurrency", type=_concurrency, default=2, metavar="N",
                      help=f"tasks run at once, 1-{MAX_CONCURRENCY} (default 2)")
    flow.add_argument("--no-cache", action="store_true",
                      help="ask the model afresh instead of serving identical earlier calls from Redis")
    _in_process_flag(flow, "run every task in this process even when a worker answers (this process keeps"
                           " the DAG either way)")
    _gate_flags(flow)
    flow.add_argument("--json", action="store_true", help="print the whole result as JSON")
    jobs = commands.add_parser("jobs", help="the most recent jobs (generations run on the workers)",
                               description="The most recent jobs of the `jobs` table, newest first: status,"
                                           " worker, attempts, workspace and request.")
    jobs.add_argument("--limit", type=_limit, default=20, metavar="N", help="how many (1-1000, default 20)")
    jobs.add_argument("--json", action="store_true", help="print the jobs as JSON")
    check = commands.add_parser(
        "check", help="gather evidence on Python code: parse, lint, import, its own tests",
        description="Gather the evidence a generation is judged on, for any .py file or folder (for"
                    " example code kept under a workspace's .devmatrix-review/): ast parse and ruff"
                    " (errors such as undefined names) on this machine, which never run the code; the"
                    " import of each module and pytest on the tests that come with it (test_*.py, or"
                    " test_ functions in the module) inside the bubblewrap sandbox: no network, a"
                    " read-only system, only copies of the files, limits on memory (SANDBOX_MEMORY_MB),"
                    " CPU (SANDBOX_CPU_S), processes, output and wall time. Without bubblewrap nothing"
                    " is run: the command fails with exit 2.",
        epilog="exit codes: 0 every check passed, 1 a check failed, 2 bad usage or the evidence could not"
               " be gathered (e.g. bubblewrap missing)")
    check.add_argument("path", type=Path, metavar="PATH", help="a .py file, or a folder of Python files")
    check.add_argument("--json", action="store_true", help="print the evidence as JSON")
    return parser


# More branches at once than this only queue on the LLM server's slots.
MAX_CONCURRENCY = 16


def _request(text: str) -> str:
    if not _utf8(text):  # a byte that is not UTF-8 could not be logged (Postgres) nor sent as JSON text
        raise argparse.ArgumentTypeError(f"the request {text[:40]!r} holds bytes that are not UTF-8 text:"
                                         " write it in UTF-8 (check the terminal's or the script's encoding)")
    if not text.strip():
        raise argparse.ArgumentTypeError("the request is empty: say what code to generate")
    if len(text) > MAX_REQUEST_CHARS:
        raise argparse.ArgumentTypeError(f"the request has {len(text):,} characters; the limit is"
                                         f" {MAX_REQUEST_CHARS:,}: shorten it, or split it into a workflow")
    return text


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RECENT:
        raise argparse.ArgumentTypeError(f"--limit {text!r} is not a whole number from 1 to {MAX_RECENT}")
    return value


def _utf8(text: str) -> bool:
    """An argument Python decoded from bytes that are not UTF-8 holds surrogates (surrogateescape)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _utf8_text(text: str) -> str:
    if not _utf8(text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} holds bytes that are not UTF-8 text: write it in UTF-8")
    return text


def _workflow_id(text: str) -> str:
    """A workflow id as the first run printed it: at most 64 characters (workflows.workflow_id),
    text that can be sent to Postgres (a byte that is not UTF-8 is refused here, naming it)."""
    if not _utf8(text):
        raise argparse.ArgumentTypeError(f"--resume {text!r} holds bytes that are not UTF-8 text: use the"
                                         " id the first run printed (wf-…)")
    if not text.strip() or len(text) > WORKFLOW_ID_MAX_CHARS or "\x00" in text:
        raise argparse.ArgumentTypeError(f"--resume {text!r} is not a workflow id (1 to {WORKFLOW_ID_MAX_CHARS}"
                                         " characters): use the id the first run printed (wf-…)")
    return text


def _workspace(text: str) -> str:
    try:
        return check_workspace_id(text)
    except WorkspaceError as error:
        raise argparse.ArgumentTypeError(f"{error.message}; {error.fix}") from None


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_CONCURRENCY}")
    return value


def _score(text: str) -> float:
    try:
        score = float(text)
    except ValueError:
        score = -1.0
    if not 0 <= score <= 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not a score from 0 to 10")
    return score


def _in_process_flag(command: argparse.ArgumentParser, text: str) -> None:
    command.add_argument("--in-process", action="store_true", help=text)


def _gate_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--min-score", type=_score, metavar="N", default=None,
                         help="review score (0-10) needed to commit; default APPROVAL_MIN_SCORE")


def _with_gate(settings: Settings, args: argparse.Namespace) -> Settings:
    """--min-score overrides APPROVAL_MIN_SCORE for this run (already range-checked by _score)."""
    if getattr(args, "min_score", None) is None:  # `check` has no gate
        return settings
    return settings.model_copy(update={"approval_min_score": args.min_score})


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    body = {"request": args.request, "workspace_id": args.workspace, "git_enabled": not args.no_git,
            "auto_approve": args.auto_approve, "enable_rag": args.rag, "min_score": args.min_score,
            "use_cache": not args.no_cache,
            # the worker writes where this command would: its WORKSPACE_DIR, not the worker's own
            "workspace_dir": str(settings.workspace_dir.resolve())}
    jobs, reason = (None, "--in-process") if args.in_process else _workers(settings)
    if jobs is not None:
        job = _generate_on_workers(jobs, body, settings)
        result = GenerationResult.model_validate(job.result)
        ran = {"executed_by": "worker", "job_id": job.job_id, "worker": job.worker, "attempts": job.attempts}
        where = f"ran on worker {job.worker} (job {job.job_id})"
    else:
        result = CodeGenerationAgent(settings=settings, enable_cache=not args.no_cache,
                                     remedies=CLI_GENERATE).generate(
            args.request, args.workspace, git_enabled=not args.no_git, enable_rag=args.rag,
            auto_approve=args.auto_approve)
        ran = {"executed_by": "in-process", "job_id": None, "worker": None, "attempts": None}
        where = f"ran in this process ({reason})"
    if args.json:
        print(json.dumps({**result.model_dump(mode="json"), **ran}, indent=2))
    else:
        print(where)
        _print_generation(result, settings)
    if result.logging_error:
        print(f"WARNING: {result.logging_error}", file=sys.stderr)
    return 0 if result.success else 1


def _workers(settings: Settings) -> tuple[JobClient | None, str]:
    """(a JobClient, why) when a worker answers a ping; (None, why not) otherwise."""
    jobs = JobClient(settings, PostgresManager(settings=settings))
    try:
        nodes = jobs.workers()
    except DevMatrixError as error:  # the broker is down: no worker can take a job
        jobs.close()
        return None, f"no worker reachable: {error.message}"
    if not nodes:
        jobs.close()
        return None, f"no worker answered a ping within {PING_TIMEOUT_S:g} s"
    return jobs, f"{nodes[0]} answered"


def _generate_on_workers(jobs: JobClient, body: dict, settings: Settings) -> Job:
    """What `POST /generate` does, from the CLI: refuse RAG the stack cannot serve, submit, wait."""
    try:
        if body["enable_rag"]:
            require_rag_enabled(settings, CLI_GENERATE.rag)
            require_examples(settings, asked_by=CLI_GENERATE.rag)
        return jobs.run(body, caller="cli")
    finally:
        jobs.close()


def _jobs(args: argparse.Namespace, settings: Settings) -> int:
    listed = JobStore(PostgresManager(settings=settings)).recent(args.limit)
    if args.json:
        print(json.dumps([{"job_id": j.job_id, "status": j.status, "worker": j.worker, "attempts": j.attempts,
                           "max_attempts": j.max_attempts, "workspace_id": j.request.get("workspace_id"),
                           "request": j.request.get("request"), "caller": j.request.get("caller"),
                           "created_at": j.created_at, "started_at": j.started_at, "finished_at": j.finished_at,
                           "log_id": (j.result or {}).get("log_id"), "error": j.error} for j in listed],
                         indent=2, default=str))
        return 0
    print(f"{len(listed)} most recent job(s), newest first")
    for j in listed:
        request = (j.request.get("request") or "").replace("\n", " ")
        print(f"  {j.job_id}  {j.status:9}  {j.attempts}/{j.max_attempts}  {j.created_at:%Y-%m-%d %H:%M:%S}"
              f"  {j.worker or '-'}  {j.request.get('workspace_id')}: {request[:50]}")
    return 0


def _print_generation(result: GenerationResult, settings: Settings) -> None:
    print(gate_line(settings))
    if result.success:
        mark = "✓" if result.approval_status == "approved" else "…"
        print(f"{mark} {result.approval_status}: {result.file_path or '(not written)'}")
        advisory = " (advisory)" if result.score_advisory else ""
        print(f"  commit {result.git_commit_hash or '-'} · score {result.quality_score}{advisory}"
              f" · {result.usage.input_tokens}+{result.usage.output_tokens} tokens"
              f" · ${result.cost_usd:.6f} · {result.latency_s:.1f} s"
              f" · {result.backend}/{result.model} · log id {result.log_id}")
        if result.evidence:
            marks = " ".join(f"{'-' if c.skipped else '✓' if c.passed else '✗'} {c.name}" for c in result.evidence)
            print(f"  evidence: {marks} · {result.evidence_repair_rounds} repair round(s)")
    else:
        print(f"FAIL: {result.error_line}", file=sys.stderr)  # the line boundary.Failure prints


def _workflow(args: argparse.Namespace, settings: Settings) -> int:
    if not args.request and not args.resume:
        raise UsageError("no request given", fix='devmatrix workflow "what to build", or --resume WORKFLOW_ID')

    def progress(event: str, task_id: str, details: dict) -> None:
        if not args.json:
            extra = f" {details['error']}" if details.get("error") else ""
            extra += f" — fix: {details['error_fix']}" if details.get("error_fix") else ""
            print(f"  [{event}] {task_id}{extra}", file=sys.stderr, flush=True)

    scratchpad = SharedScratchpad(RedisManager(settings=settings), PostgresManager(settings=settings))
    orchestrator = OrchestratorAgent(settings=settings,
                                     llm_client=create_llm_client(settings, enable_cache=not args.no_cache))
    jobs, reason = (None, "--in-process") if args.in_process else _workers(settings)
    nodes = None if jobs is None else WorkerNodes(jobs, scratchpad, settings, use_cache=not args.no_cache)
    # said first: a workflow on the workers goes on if this process dies (`--resume` takes it over)
    where = f"on the workers ({reason})" if jobs else f"in this process ({reason})"
    if not args.json:
        print(f"running {where}", file=sys.stderr, flush=True)
    workflow = MultiAgentWorkflow(orchestrator, scratchpad, max_concurrency=args.concurrency,
                                  nodes=nodes, on_event=progress)
    workspace = args.workspace
    if args.resume and workspace is None:
        row = scratchpad.load_workflow(args.resume)
        workspace = row["workspace_id"] if row else "default"
    try:
        result = workflow.execute(args.request, workspace or f"wf-{uuid.uuid4().hex[:8]}",
                                  workflow_id=args.resume)
    finally:
        if jobs is not None:
            jobs.close()
    result["executed_by"] = "workers" if jobs else "in-process"
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"ran {where}")
        print(gate_line(settings))
        state = "✓ completed" if result["success"] else "✗ failed"
        print(f"{state}: workflow {result['workflow_id']} in {result['duration_s']:.1f} s"
              f" (plan: {result['plan_source']}, workspace {result['workspace_id']})")
        for task in result["completed_tasks"] + result["failed_tasks"]:
            print(f"  {task['status']:9} {task['type']:14} {task['id']:30} "
                  f"{', '.join(task['files']) or '-'} {(task['commit'] or '')[:7]}")
        if not result["success"]:
            print(f"  resume with: devmatrix workflow --resume {result['workflow_id']}")
    return 0 if result["success"] else 1


def _check(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.path
    if not path.exists():
        raise UsageError(f"PATH {path} does not exist",
                         fix="give a .py file or a folder, e.g. `devmatrix check workspace_test/demo`")
    if path.is_file() and path.suffix != ".py":
        raise UsageError(f"PATH {path} is not a Python file (.py)", fix="give a .py file or a folder holding some")
    evidence = gather(path, Sandbox.from_settings(settings))
    code = 0 if evidence.passed else 1
    if args.json:
        print(json.dumps({**evidence.to_dict(), "exit_code": code}, indent=2))
    else:
        _print_evidence(evidence)
    return code


def _print_evidence(evidence) -> None:
    failed = len(evidence.failures)
    verdict = "passed" if evidence.passed else f"FAILED ({failed} of {len(evidence.checks)} checks)"
    print(f"evidence for {evidence.path}: {verdict}")
    for check in evidence.checks:
        mark = "-" if check.skipped else "✓" if check.passed else "✗"
        print(f"  {mark} {check.name:7} {check.target}  {check.seconds:.2f} s")
        if check.skipped or not check.passed:
            print("\n".join(f"      {line}" for line in check.output.splitlines()))


EXIT_CODES = ("exit codes: 0 done, 1 the generation, a task or a check failed, 2 bad settings or usage (e.g. --rag"
              " with RAG_ENABLED=false), 3 a service is down or frozen (the message names it and the fix),"
              " 4 a healthy service is busy (at its limit): run it again in a moment,"
              " 5 a setup step is missing (e.g. the RAG collection was never seeded: `invoke rag.seed`);"
              " `check` exits 2 when its evidence could not be gathered (no sandbox)")


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command inside the one error boundary (devmatrix.boundary: `FAIL: what — fix:
    how` and an exit code; with --json the error on stdout too), then push what it measured."""
    args = _parser().parse_args(argv)
    loaded: list[Settings] = []

    def command() -> int:
        settings = _with_gate(load_settings(), args)
        loaded.append(settings)
        configure_logging(settings, report=True)
        command_of = {"generate": _generate, "workflow": _workflow, "check": _check, "jobs": _jobs}
        return command_of[args.command](args, settings)

    try:
        return run_main(command, json_errors=args.json)
    finally:  # whatever ended the command (after its FAIL line): what it measured reaches Prometheus
        if loaded:
            push(loaded[0], CLI_JOB, warn=lambda message: print(message, file=sys.stderr))


if __name__ == "__main__":
    sys.exit(main())
