"""`invoke chaos`: a fault drill on the native stack, measured the way a user meets it.

One case = one workload (a CLI generation, an API generation, a workflow, a
RAG query or a backup) + one fault (kill or freeze) on one service of *this*
stack (postgres, redis, chroma, llm, api or the supervisor). It records what the
user saw, seconds to detect and to be healthy again, and the committed Postgres
rows and Chroma records before and after; an interrupted workflow is resumed.
"""

from devmatrix.chaos.drill import (
    FREEZE_S,
    MATRIX,
    SERVICES,
    VALIDATE_MATRIX,
    ChaosRow,
    broken_promises,
    run_case,
    snapshot,
)

__all__ = ["FREEZE_S", "MATRIX", "SERVICES", "VALIDATE_MATRIX", "ChaosRow", "broken_promises", "run_case", "snapshot"]
