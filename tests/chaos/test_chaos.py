"""The chaos tier: every service of the native stack killed and frozen during real work.

Each case runs `devmatrix.chaos.run_case` (what `invoke chaos` runs) and asserts
the promises a user relies on: the command ends within its stated deadline; an
error names the service and the fix; the stack is healthy again; no committed
Postgres row and no Chroma record is lost; an interrupted workflow resumes.
"""

from __future__ import annotations

import json

import pytest

from devmatrix import chaos
from devmatrix.config import env_file_path
from devmatrix.deadlines import VALIDATE_DEADLINE_S

# A case is a workload (up to two generations on the local model) plus up to a
# 15 s freeze and the stack's recovery: well over the suite's 120 s default.
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]


@pytest.mark.parametrize(("service", "fault", "during"), chaos.MATRIX,
                         ids=[f"{s}-{f}-during-{d}" for s, f, d in chaos.MATRIX])
def test_a_fault_is_reported_clearly_heals_and_loses_nothing(settings, service, fault, during, record_property):
    row = chaos.run_case(settings, env_file_path(), service, fault, during)
    record_property("chaos_row", row.to_dict())
    assert chaos.broken_promises(row) == [], json.dumps(row.to_dict())
    if row.outcome == "error" and not (service == "api" and during == "api"):
        # a service failure is exit 3 / HTTP 503, never folded into a "failed generation" (1 / 200)
        assert row.code in (3, 503), json.dumps(row.to_dict())


@pytest.mark.parametrize(("service", "fault", "during"), chaos.VALIDATE_MATRIX,
                         ids=[f"validate-with-{s}-frozen" for s, _, _ in chaos.VALIDATE_MATRIX])
def test_validate_names_a_frozen_service_within_its_deadline(settings, service, fault, during):
    row = chaos.run_case(settings, env_file_path(), service, fault, during)
    assert chaos.broken_promises(row) == [], json.dumps(row.to_dict())
    # the bound: the checks' own wall time (validate --json's checks_seconds) within VALIDATE_DEADLINE_S
    # (10 s), well under what a check without a deadline would take; the interpreter's start-up,
    # CPU work a busy machine stretches to ~20 s, is bounded apart (work.VALIDATE_HANG_S)
    assert row.code == 1 and row.seconds <= VALIDATE_DEADLINE_S, json.dumps(row.to_dict())
