"""CodeGenerationAgent: one request, end to end (seed §2.2).

request → (RAG examples) → LLM → code block → ast check (one bounded repair) →
review score → the review gate (approval.py: approved, rejected, pending_review) →
file in the workspace → git commit (approved only) → a row in code_generation_logs →
metrics and one log line → the seed's result dict.
A failure of the request or of the model's output returns a result (success
False, the error named) and logs its row. A service that is down or frozen is a
ServiceError raised to the caller, after the attempt is logged where Postgres
allows. A row that cannot be written is named in ``logging_error``, never hidden.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
import time
from typing import Any

import structlog

from devmatrix.agents._extract import extract_code, module_name, requested_path
from devmatrix.agents.approval import Approval, decide
from devmatrix.agents.review import review_code
from devmatrix.config import Settings, load_settings
from devmatrix.deadlines import GENERATE_DEADLINE_S
from devmatrix.errors import DevMatrixError, LLMError, RAGError, RejectedByReview, ServiceError
from devmatrix.observability.metrics import CODE_GENERATION_ATTEMPTS, CODE_GENERATION_SUCCESS
from devmatrix.state.postgres import PostgresManager
from devmatrix.workspace import WorkspaceManager

log = structlog.get_logger("devmatrix.agent")

MAX_REQUEST_CHARS = 20_000
GENERATE_MAX_TOKENS = 512
SYSTEM = (
    "You are an expert Python developer. Reply with one complete, runnable Python module"
    " in a single ```python code block, with type hints and docstrings. No text outside it."
)


class CodeGenerationAgent:
    def __init__(self, api_key: str | None = None, postgres_manager: PostgresManager | None = None,
                 enable_cache: bool = True, *, settings: Settings | None = None,
                 llm_client: object | None = None, retriever: object | None = None) -> None:
        self.settings = settings or load_settings()
        self.api_key = api_key
        self.enable_cache = enable_cache
        self.postgres = postgres_manager
        self._client = llm_client
        self._retriever = retriever
        # One agent serves several threads at once (workflow branches, API workers):
        # each generation's deadline is its thread's own.
        self._call_state = threading.local()

    @property
    def client(self):  # the AnthropicClient, built on first use
        if self._client is None:
            from devmatrix.llm import create_llm_client

            overrides: dict[str, Any] = {"enable_cache": self.enable_cache}
            if self.api_key:
                overrides["api_key"] = self.api_key
            self._client = create_llm_client(self.settings, **overrides)
        return self._client

    def generate(self, user_request: str, workspace_id: str, git_enabled: bool = True,
                 auto_approve: bool = True, enable_rag: bool = False,
                 base_path: str | None = None, min_score: float | None = None) -> dict[str, Any]:
        """``auto_approve``: the gate decides alone (below ``min_score``: rejected); False: a
        person does (below it: pending_review). ``min_score`` defaults to APPROVAL_MIN_SCORE."""
        CODE_GENERATION_ATTEMPTS.inc()
        if min_score is None:
            min_score = self.settings.approval_min_score
        start = time.perf_counter()
        result: dict[str, Any] = {
            "success": False, "approval_status": "error", "file_written": False,
            "file_path": None, "generated_code": "", "quality_score": None,
            "git_committed": False, "git_commit_hash": None, "error": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}, "cost_usd": 0.0,
            "latency_s": 0.0, "model": None, "backend": None, "cache_hit": False,
            "rag_examples": 0, "rag_example_ids": [], "log_id": None, "workspace_id": workspace_id,
            "approval_min_score": min_score,
        }
        self._call_state.deadline = time.monotonic() + GENERATE_DEADLINE_S
        try:
            self._run(result, user_request, workspace_id, git_enabled, auto_approve, enable_rag,
                      base_path)
            result["success"] = True
            CODE_GENERATION_SUCCESS.inc()
        except ServiceError as error:
            # A service is down or frozen: not a result but an error for the caller to decide on
            # (CLI exit 3, API 503, workflow interrupted). The attempt is still logged if it can be.
            result["error"] = str(error)
            self._finish(result, user_request, start)
            raise
        except DevMatrixError as error:  # the model's output or the request: a failed result
            result["error"] = str(error)
        self._finish(result, user_request, start)
        return result

    def _finish(self, result: dict, request: str, start: float) -> None:
        result["latency_s"] = round(time.perf_counter() - start, 3)
        self._log_row(result, request)
        log.info("code_generation", workspace_id=result["workspace_id"], success=result["success"],
                 approval_status=result["approval_status"], model=result["model"],
                 backend=result["backend"], cost_usd=result["cost_usd"], latency_s=result["latency_s"],
                 error=result["error"], log_id=result["log_id"],
                 logging_error=result.get("logging_error"))

    # --- the pipeline -------------------------------------------------------------
    def _run(self, result: dict, request: str, workspace_id: str, git_enabled: bool,
             auto_approve: bool, enable_rag: bool, base_path: str | None) -> None:
        request = request.strip()
        if not request:
            raise LLMError("the request is empty", fix="say what code to generate")
        if len(request) > MAX_REQUEST_CHARS:
            raise LLMError(f"the request has {len(request):,} characters; the limit is"
                           f" {MAX_REQUEST_CHARS:,}", fix="shorten it, or split it into a workflow")
        with WorkspaceManager(workspace_id, base_path, settings=self.settings) as workspace:
            self._pipeline(result, request, workspace, git_enabled, auto_approve, enable_rag)

    def _pipeline(self, result: dict, request: str, workspace: WorkspaceManager,
                  git_enabled: bool, auto_approve: bool, enable_rag: bool) -> None:
        hinted = requested_path(request)
        if hinted:
            workspace.resolve(hinted)  # a path outside the workspace fails before any LLM call
        prompt = request
        if enable_rag:
            if not self.settings.rag_enabled:
                raise RAGError("retrieval was asked for (--rag / enable_rag) but RAG_ENABLED=false",
                               fix="set RAG_ENABLED=true in .env.test and `invoke rag.seed`, or drop --rag")
            result["rag_example_ids"], examples = self._examples(request)
            result["rag_examples"] = len(result["rag_example_ids"])
            prompt = f"{examples}\n\nRequest: {request}" if examples else request
        reply = self._call(result, prompt, SYSTEM)
        code = extract_code(reply)
        if code is None:
            raise LLMError(f"the model's reply has no ```python code block: {reply[:120]!r}",
                           fix="retry; a stronger model (LLM_BACKEND=anthropic) follows the format")
        result["generated_code"] = code
        code = self._checked(result, request, code)
        review = review_code(self.client, request, code, deadline_s=self._remaining(),
                             use_cache=self.enable_cache)
        self._add_usage(result, review.input_tokens, review.output_tokens, review.cost_usd)
        result["quality_score"] = review.score
        min_score = result["approval_min_score"]
        approval = decide(review.score, min_score, auto_approve=auto_approve)
        result["approval_status"] = approval.value
        fallback = "generated_" + hashlib.sha256(request.encode()).hexdigest()[:8]
        target = hinted or module_name(code, fallback)
        if approval is not Approval.APPROVED:
            # Written where a person can read it, never committed (.devmatrix-review/ is git-excluded).
            path = workspace.write_for_review(approval.value, target, code)
            result["file_written"], result["file_path"] = True, str(path)
            if approval is Approval.REJECTED:
                raise RejectedByReview(
                    f"rejected: the review scored the code {review.score:g}/10, below"
                    f" APPROVAL_MIN_SCORE={min_score:g}; not committed, kept at {path}",
                    fix="read it and commit it yourself, retry, lower the gate with --min-score,"
                        " or ask for a person's review with --review")
            return  # pending_review: a person decides
        if git_enabled:  # one workspace lock for the write and its commit
            path, result["git_commit_hash"] = workspace.write_and_commit(target, code, f"feat: {request[:60]}")
            result["git_committed"] = True
        else:
            path = workspace.write_file(target, code)
        result["file_written"], result["file_path"] = True, str(path)

    def _call(self, result: dict, prompt: str, system: str) -> str:
        reply = self.client.complete(prompt, system=system, max_tokens=GENERATE_MAX_TOKENS,
                                     deadline_s=self._remaining(), use_cache=self.enable_cache)
        result["model"], result["backend"] = reply.model, reply.backend
        result["cache_hit"] = result["cache_hit"] or reply.cache_hit
        self._add_usage(result, reply.input_tokens, reply.output_tokens, reply.cost_usd)
        return reply.text

    def _checked(self, result: dict, request: str, code: str) -> str:
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
                           fix="retry, or rephrase the request") from None
        if repaired is None:
            raise LLMError(f"the generated code is not valid Python ({problem}) and the repair"
                           " reply has no code block", fix="retry, or rephrase the request")
        result["generated_code"] = repaired
        return repaired

    def _examples(self, request: str) -> tuple[list[str], str]:
        """(the examples' ids, the prompt section) from the RAG corpus; an empty store is an error."""
        from devmatrix.rag.retriever import create_retriever, format_examples_prompt

        if self._retriever is None:
            self._retriever = create_retriever(settings=self.settings)
        retrieval = self._retriever.retrieve(request)
        if not retrieval.results and self._retriever.store.count() == 0:
            raise RAGError(f"RAG is enabled but the collection {self._retriever.store.collection_name!r}"
                           " is empty", fix="`invoke rag.seed` (phase1 does it), or run without --rag")
        return [hit.id for hit in retrieval.results], format_examples_prompt(retrieval)

    def _remaining(self) -> float:
        """Seconds left of this generation's deadline, for the next LLM call."""
        remaining = self._call_state.deadline - time.monotonic()
        if remaining <= 0:
            raise ServiceError("llm", f"the generation ran out of its {GENERATE_DEADLINE_S:g} s deadline",
                               fix="`invoke infra.status`: the LLM server is overloaded or slow")
        return remaining

    @staticmethod
    def _add_usage(result: dict, input_tokens: int, output_tokens: int, cost: float) -> None:
        result["usage"]["input_tokens"] += input_tokens
        result["usage"]["output_tokens"] += output_tokens
        result["cost_usd"] = round(result["cost_usd"] + cost, 6)

    def _log_row(self, result: dict, request: str) -> None:
        """Log every generation; a logging failure is named in the result, never hidden."""
        try:
            postgres = self.postgres or PostgresManager(settings=self.settings)
            self.postgres = postgres
            rows = postgres.execute(
                "INSERT INTO code_generation_logs (workspace_id, user_request, generated_code,"
                " approval_status, quality_score, metadata, success, error, model, backend,"
                " input_tokens, output_tokens, cost_usd, latency_s, file_path, git_commit_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id",
                (result["workspace_id"], request, result["generated_code"],
                 result["approval_status"], result["quality_score"],
                 json.dumps({"cache_hit": result["cache_hit"], "rag_examples": result["rag_examples"],
                             "rag_example_ids": result["rag_example_ids"],
                             "approval_min_score": result["approval_min_score"]}),
                 result["success"], result["error"], result["model"], result["backend"],
                 result["usage"]["input_tokens"], result["usage"]["output_tokens"],
                 result["cost_usd"], result["latency_s"], result["file_path"],
                 result["git_commit_hash"]),
            )
            result["log_id"] = rows[0]["id"]
        except DevMatrixError as error:
            result["logging_error"] = f"the generation was not logged: {error}"
