"""The one exception tree of DevMatrix.

Every error says what failed, the value that was wrong, and how to fix it, so
an entry point can print ``str(error)`` and exit without a traceback.
"""

from __future__ import annotations


class DevMatrixError(Exception):
    """Base of every error DevMatrix raises on purpose."""

    exit_code = 1
    http_status = 500  # what the API answers when this error ends a request

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} — fix: {fix}" if fix else message)


class ConfigError(DevMatrixError):
    """Settings could not be loaded: a bad `.env.test` line or value."""

    exit_code = 2

    def __init__(self, problems: list[str], *, source: str) -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in the settings from {source}:\n{lines}",
            fix=f"edit {source} (see .env.test.example for every variable)",
        )


class ServiceError(DevMatrixError):
    """A service is missing, unreachable, frozen or misbehaving.

    Raised at the client boundary (devmatrix.clients, the LLM client) and passed up
    untouched to whoever decides: the CLI exits 3, the API answers 503, a workflow
    stops `interrupted` and can be resumed. Never folded into a success-shaped result.
    """

    exit_code = 3
    http_status = 503  # a dependency is down, frozen or fenced off (CircuitOpen): retry later

    def __init__(self, service: str, message: str, *, fix: str | None = None) -> None:
        self.service = service
        super().__init__(f"{service}: {message}", fix=fix)


class ServiceBusy(ServiceError):
    """A healthy service, or the API itself, is at its limit: the same request later will do.

    Not an outage: nothing is down and nothing needs a restart, so it has its own exit code
    and HTTP status (429 with ``Retry-After: retry_after_s``), and its fix never says to
    restart a server. Raised for the API's generation slots (api/slots.py) and for a
    Postgres pool whose every connection is in use (devmatrix.clients.postgres_error).
    """

    exit_code = 4
    http_status = 429  # too many requests at once: retry after Retry-After seconds

    def __init__(self, service: str, message: str, *, retry_after_s: int, fix: str | None = None) -> None:
        if retry_after_s < 1:
            raise ValueError(f"retry_after_s={retry_after_s}: Retry-After is a whole number of seconds >= 1")
        self.retry_after_s = retry_after_s
        super().__init__(service, message, fix=fix)


class StatementRejected(DevMatrixError):
    """Postgres is up, answered, and refused a statement or a value in it (a data, integrity or
    syntax error: SQLSTATE classes 22, 23, 42, 0A). Not an outage, so never a ServiceError: no 503,
    no exit 3, no advice to restart a healthy server. Values a user sends are checked before they
    reach a statement (the API's schemas, the CLI's argument types, ``InvalidValue``), so one that
    gets here is a bug: exit 1, HTTP 500, and the message names what Postgres refused."""

    def __init__(self, message: str, *, sqlstate: str | None, fix: str | None = None) -> None:
        self.sqlstate = sqlstate
        super().__init__(message, fix=fix)


class InvalidValue(DevMatrixError):
    """A value a user sent (an id, a limit) is not one that can be looked up: refused before it
    reaches a store, naming the value and the form it must have."""

    exit_code = 2  # a usage error, as a bad command-line argument
    http_status = 422  # the request is well formed but one of its values cannot be right


class ServiceTimeout(ServiceError):
    """A service took the request and gave no (complete) answer within its deadline: frozen,
    or too busy to reach it in time. A caller that can tell busy from hung (the LLM check looks
    at the server's slots) catches this one; to everyone else it is a ServiceError."""


class ServiceNotReady(ServiceError):
    """A service did not pass its readiness check in time."""

    def __init__(
        self, service: str, message: str, *, log_tail: str = "", fix: str | None = None
    ) -> None:
        self.log_tail = log_tail
        if log_tail:
            message = f"{message}\n--- last log lines ---\n{log_tail}"
        super().__init__(service, message, fix=fix)


class PortInUse(ServiceError):
    """The port a service must bind is held by another process."""

    def __init__(self, service: str, port: int, holder: str, *, setting: str) -> None:
        self.port = port
        self.holder = holder
        super().__init__(
            service,
            f"port {port} is already in use by {holder}",
            fix=f"stop that process, or set {setting} to a free port in .env.test",
        )


class JobFailed(DevMatrixError):
    """A job ended failed, its row already stored so (devmatrix.jobs.tasks): raised by the worker's
    task so that Celery, and Flower's task events, count a failure and not a success. The job's
    row holds the error the caller sees; this one only names the job."""


class StackBusy(DevMatrixError):
    """Another command held the stack lock past our deadline (ops/services/stack_lock.py)."""


class InstallError(DevMatrixError):
    """A system package or program that DevMatrix needs is missing."""


class EvidenceError(DevMatrixError):
    """Evidence about code could not be gathered, so the code was not judged (devmatrix.evidence)."""

    exit_code = 2  # `devmatrix check`: 0 passed, 1 a check failed, 2 the checks could not run
    http_status = 503


class SandboxUnavailable(EvidenceError):
    """bubblewrap is missing or cannot create its namespaces here. Code is never run unsandboxed."""


class ConfirmationRequired(DevMatrixError):
    """A destructive step was asked for without confirmation."""


class LLMError(DevMatrixError):
    """A call to the language model failed."""

    http_status = 502  # the model's server answered badly


class ReviewError(LLMError):
    """The reviewer's reply held no score; the generation is not approved."""


class RejectedByReview(LLMError):
    """The review scored the code below APPROVAL_MIN_SCORE: kept for reading, not committed."""


class RejectedByEvidence(LLMError):
    """The code failed its evidence (devmatrix.evidence) after its repair rounds: not committed."""


class BudgetExceeded(LLMError):
    """A call budget or dollar budget would be exceeded; nothing was sent."""


class CircuitOpen(ServiceError, LLMError):
    """The circuit breaker is open; the call failed fast without being sent."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__("llm", message, fix=fix)


class UnknownModel(LLMError):
    """No price is known for a model, so its cost cannot be computed."""


class WorkspaceError(DevMatrixError):
    """A workspace or git operation failed."""


class PathOutsideWorkspace(WorkspaceError):
    """A write would land outside the workspace root."""


class NotSetUp(DevMatrixError):
    """A step the command relies on was never done (e.g. the RAG collection was never seeded):
    neither the model's failure (exit 1) nor a service outage (exit 3). The fix names the step."""

    exit_code = 5  # 4 is a busy service (ServiceBusy): wait, whereas this needs a command
    http_status = 409  # the server's state does not allow it yet; the client's request is fine


class RAGError(DevMatrixError):
    """The retrieval system (embeddings, vector store, corpus) failed."""


class RAGDisabled(RAGError):
    """Retrieval was asked for while RAG_ENABLED=false: the request and the settings disagree."""

    exit_code = 2
    http_status = 409


class CollectionMissing(RAGError, NotSetUp):
    """The RAG collection does not exist, or holds nothing: `invoke rag.seed` was never run."""


class BackupError(DevMatrixError):
    """A backup or restore could not be made or trusted."""


class WorkflowError(DevMatrixError):
    """A multi-agent workflow could not be planned or run."""


class WorkflowInterrupted(WorkflowError):
    """A service failed mid-run: finished tasks are saved and the workflow can be resumed."""

    exit_code = 3

    def __init__(self, workflow_id: str, cause: ServiceError) -> None:
        self.workflow_id = workflow_id
        self.cause = cause
        self.service = cause.service
        self.exit_code = cause.exit_code  # 3 a service down, 4 one busy (ServiceBusy)
        super().__init__(
            f"workflow {workflow_id} interrupted: {cause.message}; its finished tasks are saved",
            fix=f"{cause.fix + ', then ' if cause.fix else ''}`devmatrix workflow --resume {workflow_id}`",
        )


class PlanError(WorkflowError):
    """A task plan is invalid: a cycle, an unknown type, a missing dependency."""


class ChecksFailed(DevMatrixError):
    """A command ran to its end and what it checked failed (a check, a step, a case, a service
    unhealthy); each failure is listed above the FAIL line, or in the --json output."""

    def __init__(self, message: str, *, fix: str | None = None, exit_code: int = 1) -> None:
        self.exit_code = exit_code  # 1; `invoke validate` says 2 when its checks could not run
        super().__init__(message, fix=fix)


class UsageError(DevMatrixError):
    """A command was called wrongly (an option where an argument belongs)."""

    exit_code = 2
