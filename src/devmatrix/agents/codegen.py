"""CodeGenerationAgent: one request, end to end (seed §2.2).

request → (RAG examples) → LLM → code block → ast check (one bounded repair) →
evidence in the sandbox (devmatrix.evidence; failing evidence goes back to the model for
at most EVIDENCE_REPAIR_ROUNDS repairs) → review score (only for passing evidence) →
the gate (approval.py: approved, rejected, pending_review) → file in the workspace →
git commit (approved only) → a row in code_generation_logs → metrics and one log line →
a GenerationResult (result.py: the seed's keys, read as a dict too, plus ``evidence``,
``evidence_passed``, ``evidence_repair_rounds`` and ``score_advisory``: the score did not gate).
A failure of the request or of the model's output returns a result (success False, the error
in ``error``, a fix that changes the outcome in ``error_fix``: remedies.py) and logs its row.
What is not the model's doing is raised to the caller, after the attempt is logged where
Postgres allows: a service down or frozen (ServiceError), retrieval asked for with
RAG_ENABLED=false (RAGDisabled), a collection never seeded (CollectionMissing).
A row that cannot be written is named in ``logging_error``, never hidden.
"""

from __future__ import annotations

import ast
import hashlib
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import PurePosixPath
from typing import Any

import structlog

from devmatrix.agents._extract import extract_code, module_name, requested_path
from devmatrix.agents._llm_client import AgentClient
from devmatrix.agents.approval import Approval, decide, score_gates
from devmatrix.agents.remedies import PYTHON, Remedies
from devmatrix.agents.requests import MAX_REQUEST_CHARS, require_rag_enabled
from devmatrix.agents.result import EvidenceCheck, GenerationResult
from devmatrix.agents.review import review_code
from devmatrix.config import Settings, load_settings
from devmatrix.deadlines import GENERATE_DEADLINE_S
from devmatrix.errors import (
    CollectionMissing,
    DevMatrixError,
    LLMError,
    NotSetUp,
    RAGDisabled,
    RejectedByEvidence,
    RejectedByReview,
    ReviewError,
    ServiceError,
)
from devmatrix.evidence import Evidence, Sandbox, gather_files, read_files
from devmatrix.monitoring.metrics import CODE_GENERATION_ATTEMPTS, CODE_GENERATION_SUCCESS
from devmatrix.rag.retriever import create_retriever, format_examples_prompt
from devmatrix.state.postgres import PostgresManager
from devmatrix.workspace import WorkspaceManager
from devmatrix.workspace.manager import REVIEW_DIR

log = structlog.get_logger("devmatrix.agent")

# The commit trailer that makes a job's commit findable, so a retry never commits twice.
GENERATION_TRAILER = "Generation-Id"
# Raised to the caller rather than returned as a failed generation: not the model's doing.
NOT_A_RESULT = (ServiceError, RAGDisabled, NotSetUp)
GENERATE_MAX_TOKENS = 512
SYSTEM = (
    "You are an expert Python developer. Reply with one complete, runnable Python module"
    " in a single ```python code block, with type hints and docstrings, and pytest test functions"
    " (def test_...) for it at the end of the module. No text outside it."
)
REPAIR = ("This Python module, written for the request {request!r}, failed these checks"
          " (run in a sandbox):\n{failures}\n\nReply with the corrected module only.\n```python\n{code}```")
# (files: relative path → source, the files to check among them) → their Evidence
GatherEvidence = Callable[[Mapping[str, str], Collection[str]], Evidence]


class CodeGenerationAgent:
    def __init__(self, api_key: str | None = None, postgres_manager: PostgresManager | None = None,
                 enable_cache: bool = True, *, settings: Settings | None = None,
                 llm_client: object | None = None, retriever: object | None = None,
                 remedies: Remedies = PYTHON, evidence: GatherEvidence | None = None) -> None:
        self.settings = settings or load_settings()
        self.remedies = remedies  # how fixes name the caller's own flags or fields
        self._gather = evidence  # the sandbox's checks unless given (built on first use)
        self.api_key = api_key
        self.enable_cache = enable_cache
        self.postgres = postgres_manager
        overrides: dict[str, Any] = {"enable_cache": enable_cache, **({"api_key": api_key} if api_key else {})}
        self._llm = AgentClient(self.settings, llm_client, **overrides)
        self._retriever = retriever
        # One agent serves several threads at once (workflow branches, API workers):
        # each generation's deadline is its thread's own.
        self._call_state = threading.local()

    @property
    def client(self):  # the AnthropicClient, built on first use
        return self._llm.get()

    def close(self) -> None:
        """Close the LLM client this agent built (one it was given belongs to the giver)."""
        self._llm.close()

    def generate(self, user_request: str, workspace_id: str, git_enabled: bool = True,
                 auto_approve: bool = True, enable_rag: bool = False,
                 base_path: str | None = None, min_score: float | None = None,
                 generation_id: str | None = None) -> GenerationResult:
        """``auto_approve``: the gate decides alone (below ``min_score``: rejected); False: a
        person does (below it: pending_review). ``min_score`` defaults to APPROVAL_MIN_SCORE.
        ``generation_id`` (a job's id) makes a retry's effects happen once: the commit carries
        ``Generation-Id: <id>`` and is not made again when one with it exists, and the log row
        is keyed by it (written again, never twice)."""
        CODE_GENERATION_ATTEMPTS.inc()
        if min_score is None:
            min_score = self.settings.approval_min_score
        start = time.perf_counter()
        result = GenerationResult(workspace_id=workspace_id, approval_min_score=min_score)
        self._call_state.deadline = time.monotonic() + GENERATE_DEADLINE_S
        self._call_state.generation_id = generation_id
        result.generation_id = generation_id
        try:
            self._run(result, user_request, workspace_id, git_enabled, auto_approve, enable_rag,
                      base_path)
            result.success = True
            CODE_GENERATION_SUCCESS.inc()
        except NOT_A_RESULT as error:
            # A service is down or frozen, or the stack is not set up for this request: not a result
            # but an error for the caller to decide on (CLI exit 3/2/4, API 503/409, workflow
            # interrupted). The attempt is still logged if it can be.
            result.fail(error)
            self._finish(result, user_request, start)
            raise
        except DevMatrixError as error:  # the model's output or the request: a failed result
            result.fail(error)
        self._finish(result, user_request, start)
        return result

    def _finish(self, result: GenerationResult, request: str, start: float) -> None:
        result.latency_s = round(time.perf_counter() - start, 3)
        self._log_row(result, request)
        log.info("code_generation", workspace_id=result.workspace_id, success=result.success,
                 approval_status=result.approval_status, model=result.model,
                 backend=result.backend, cost_usd=result.cost_usd, latency_s=result.latency_s,
                 error=result.error, error_fix=result.error_fix, log_id=result.log_id,
                 logging_error=result.logging_error)

    # --- the pipeline -------------------------------------------------------------
    def _run(self, result: GenerationResult, request: str, workspace_id: str, git_enabled: bool,
             auto_approve: bool, enable_rag: bool, base_path: str | None) -> None:
        request = request.strip()
        if not request:
            raise LLMError("the request is empty", fix="say what code to generate")
        if len(request) > MAX_REQUEST_CHARS:
            raise LLMError(f"the request has {len(request):,} characters; the limit is"
                           f" {MAX_REQUEST_CHARS:,}", fix="shorten it, or split it into a workflow")
        with WorkspaceManager(workspace_id, base_path, settings=self.settings) as workspace:
            self._pipeline(result, request, workspace, git_enabled, auto_approve, enable_rag)

    def _pipeline(self, result: GenerationResult, request: str, workspace: WorkspaceManager,
                  git_enabled: bool, auto_approve: bool, enable_rag: bool) -> None:
        hinted = requested_path(request)
        if hinted:
            workspace.resolve(hinted)  # a path outside the workspace fails before any LLM call
        prompt = request
        if enable_rag:
            require_rag_enabled(self.settings, self.remedies.rag or "enable_rag")
            result.rag_example_ids, examples = self._examples(request)
            result.rag_examples = len(result.rag_example_ids)
            prompt = f"{examples}\n\nRequest: {request}" if examples else request
        reply = self._call(result, prompt, SYSTEM)
        code = extract_code(reply)
        if code is None:
            raise LLMError(f"the model's reply has no ```python code block: {reply[:120]!r}",
                           fix=self.remedies.bad_output(self.settings, used_rag=enable_rag))
        result.generated_code = code
        code = self._checked(result, request, code, used_rag=enable_rag)
        fallback = "generated_" + hashlib.sha256(request.encode()).hexdigest()[:8]
        target = hinted or module_name(code, fallback)
        code, evidence = self._evidenced(result, request, workspace, PurePosixPath(target).as_posix(), code)
        if evidence.passed:  # a review of code that fails its own evidence would be paid for nothing
            try:
                review = review_code(self.client, request, code, deadline_s=self._remaining(),
                                     use_cache=self.enable_cache)
            except ReviewError as error:
                raise ReviewError(error.message, fix=self.remedies.bad_output(self.settings, used_rag=enable_rag)) \
                    from None
            result.add_usage(review.input_tokens, review.output_tokens, review.cost_usd)
            result.quality_score = review.score
        counts = score_gates(result.backend)
        result.score_advisory = not counts
        min_score = result.approval_min_score
        approval = decide(result.quality_score, min_score, auto_approve=auto_approve,
                          evidence_passed=evidence.passed, score_counts=counts)
        result.approval_status = approval.value
        if approval is not Approval.APPROVED:
            # Written where a person can read it, never committed (.devmatrix-review/ is git-excluded).
            path = workspace.write_for_review(approval.value, target, code)
            result.file_written, result.file_path = True, str(path)
            if approval is Approval.REJECTED and not evidence.passed:
                failed = ", ".join(f"{check.name} of {check.target}" for check in evidence.failures)
                raise RejectedByEvidence(
                    f"rejected: the evidence failed ({failed}) after {result.evidence_repair_rounds}"
                    f" repair round(s) (EVIDENCE_REPAIR_ROUNDS); not committed, kept at {path}",
                    fix=self.remedies.evidence_failed(self.settings, used_rag=enable_rag, path=path))
            if approval is Approval.REJECTED:
                raise RejectedByReview(
                    f"rejected: the review scored the code {review.score:g}/10, below"
                    f" APPROVAL_MIN_SCORE={min_score:g}; not committed, kept at {path}",
                    fix=self.remedies.rejected(self.settings, used_rag=enable_rag))
            return  # pending_review: a person decides
        generation_id = self._call_state.generation_id
        if git_enabled and generation_id:  # a retried job: its commit, once
            path, result.git_commit_hash, _ = workspace.write_and_commit_once(
                target, code, f"feat: {request[:60]}", key=GENERATION_TRAILER, value=generation_id)
            result.git_committed = True
        elif git_enabled:  # one workspace lock for the write and its commit
            path, result.git_commit_hash = workspace.write_and_commit(target, code, f"feat: {request[:60]}")
            result.git_committed = True
        else:
            path = workspace.write_file(target, code)
        result.file_written, result.file_path = True, str(path)

    def _evidenced(self, result: GenerationResult, request: str, workspace: WorkspaceManager, target: str,
                   code: str) -> tuple[str, Evidence]:
        """The code's evidence, checked beside the workspace's files (a test task imports the
        implementation an earlier task wrote). Failing evidence goes back to the model with what
        failed, for at most EVIDENCE_REPAIR_ROUNDS rounds; each round is logged and its cost counted."""
        context = read_files(workspace.root, also_skipped=(REVIEW_DIR,))
        while True:
            evidence = self._evidence_of({**context, target: code}, [target])
            result.evidence = [EvidenceCheck.model_validate(check) for check in evidence.checks]
            result.evidence_passed = evidence.passed
            if evidence.passed or result.evidence_repair_rounds >= self.settings.evidence_repair_rounds:
                return code, evidence
            result.evidence_repair_rounds += 1
            log.info("evidence_repair", workspace_id=result.workspace_id, target=target,
                     round=result.evidence_repair_rounds,
                     failed=[f"{check.name}:{check.target}" for check in evidence.failures])
            repaired = extract_code(self._call(
                result, REPAIR.format(request=request, failures=evidence.feedback(), code=code), SYSTEM))
            if repaired is not None:  # no code block: the round is spent, the code stays
                code = result.generated_code = repaired

    def _evidence_of(self, files: Mapping[str, str], targets: Collection[str]) -> Evidence:
        if self._gather is None:
            sandbox = Sandbox.from_settings(self.settings)  # one per agent: bwrap is probed once
            self._gather = lambda files, targets: gather_files(files, sandbox, targets=targets)
        return self._gather(files, targets)

    def _call(self, result: GenerationResult, prompt: str, system: str) -> str:
        reply = self.client.complete(prompt, system=system, max_tokens=GENERATE_MAX_TOKENS,
                                     deadline_s=self._remaining(), use_cache=self.enable_cache)
        result.model, result.backend = reply.model, reply.backend
        result.cache_hit = result.cache_hit or reply.cache_hit
        result.add_usage(reply.input_tokens, reply.output_tokens, reply.cost_usd)
        return reply.text

    def _checked(self, result: GenerationResult, request: str, code: str, *, used_rag: bool) -> str:
        """ast.parse the code; on a syntax error, one repair round, then give up clearly."""
        try:
            ast.parse(code)
            return code
        except SyntaxError as error:
            problem = f"line {error.lineno}: {error.msg}"
        repaired = extract_code(self._call(
            result, f"This Python code for the request {request!r} has a syntax error"
                    f" ({problem}). Reply with the corrected module only.\n```python\n{code}```",
            SYSTEM))
        try:
            ast.parse(repaired or "")
        except SyntaxError as error:
            raise LLMError(f"the generated code is not valid Python ({problem}), and the repair"
                           f" round failed too (line {error.lineno}: {error.msg})",
                           fix=self.remedies.bad_output(self.settings, used_rag=used_rag)) from None
        if repaired is None:
            raise LLMError(f"the generated code is not valid Python ({problem}) and the repair"
                           " reply has no code block", fix=self.remedies.bad_output(self.settings, used_rag=used_rag))
        result.generated_code = repaired
        return repaired

    def _examples(self, request: str) -> tuple[list[str], str]:
        """(the examples' ids, the prompt section) from the RAG corpus: the retrieved examples at or
        above the retriever's similarity threshold (RAG_SIMILARITY_THRESHOLD); an empty store is an error."""
        if self._retriever is None:
            self._retriever = create_retriever(settings=self.settings)
        retrieval = self._retriever.retrieve(request)
        if not retrieval.results and self._retriever.store.count() == 0:
            raise CollectionMissing(f"RAG is enabled but the collection {self._retriever.store.collection_name!r}"
                                    " is empty", fix="`invoke rag.seed` (phase1 does it), or ask without"
                                                     f" {self.remedies.rag or 'enable_rag'}")
        return [hit.id for hit in retrieval.relevant], format_examples_prompt(retrieval)

    def _remaining(self) -> float:
        """Seconds left of this generation's deadline, for the next LLM call."""
        remaining = self._call_state.deadline - time.monotonic()
        if remaining <= 0:
            raise ServiceError("llm", f"the generation ran out of its {GENERATE_DEADLINE_S:g} s deadline",
                               fix="`invoke infra.status`: the LLM server is overloaded or slow")
        return remaining

    def _log_row(self, result: GenerationResult, request: str) -> None:
        """Log every generation; a logging failure is named in the result, never hidden."""
        row = result.log_row(request)
        try:
            postgres = self.postgres or PostgresManager(settings=self.settings)
            self.postgres = postgres
            rows = postgres.execute(
                f"INSERT INTO code_generation_logs ({', '.join(row)})"  # noqa: S608 - the model's field names
                f" VALUES ({', '.join('%s::jsonb' if c == 'metadata' else '%s' for c in row)})"
                # a job's retry rewrites its one row (NULL ids never conflict: plain generations)
                " ON CONFLICT (generation_id) DO UPDATE SET timestamp = NOW(), "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c not in ("generation_id", "workspace_id"))
                + " RETURNING id",
                tuple(row.values()),
            )
            result.log_id = rows[0]["id"]
        except DevMatrixError as error:
            result.logging_error = f"the generation was not logged: {error}"
