"""monitoring.check's proof generation: what its exit code lets the check say."""

from __future__ import annotations

import pytest

from devmatrix.checks.monitoring import proof_outcome

pytestmark = pytest.mark.unit


def test_a_generation_the_model_failed_still_ran_and_is_said_so_truthfully():
    ran, words = proof_outcome(1, "FAIL: rejected: the review scored the code 3/10 …\n")
    assert ran and "did not pass" in words and "exit 1" in words and "counts all the same" in words
    assert proof_outcome(0, "") == (True, "the proof generation succeeded (`devmatrix generate` exit 0)")


@pytest.mark.parametrize("code", [2, 3, 4, 130])
def test_a_generation_that_could_not_run_fails_the_check_with_its_reason(code):
    stderr = "some log line\nFAIL: redis: cannot reach Redis — fix: `invoke infra.up -s redis`\n"
    ran, words = proof_outcome(code, stderr)
    assert not ran
    assert words == (f"the proof generation did not run: `devmatrix generate` exited {code}:"
                     " FAIL: redis: cannot reach Redis — fix: `invoke infra.up -s redis`")
