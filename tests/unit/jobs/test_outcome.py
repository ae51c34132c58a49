"""A job's error comes back as the class it was raised as: the API answers it as before."""

from __future__ import annotations

import pytest

from devmatrix.errors import CircuitOpen, CollectionMissing, RAGDisabled, ServiceBusy, ServiceError
from devmatrix.jobs.outcome import error_of, failure_of, is_llm_outage
from devmatrix.llm import breaker as breakers

pytestmark = pytest.mark.unit
JOB = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(("raised", "status", "service"), [
    (ServiceError("llm", "cannot reach the local backend at 127.0.0.1:1", fix="`invoke infra.up -s llm`"), 503, "llm"),
    (ServiceBusy("postgres", "every pooled connection is in use", retry_after_s=7, fix="send it again"), 429,
     "postgres"),
    (CircuitOpen("the LLM circuit breaker is open", fix="wait"), 503, "llm"),
    (RAGDisabled("retrieval was asked for but RAG_ENABLED=false", fix="set RAG_ENABLED=true"), 409, None),
    (CollectionMissing("collection 'x' does not exist", fix="`invoke rag.seed`"), 409, None),
])
def test_an_error_kept_in_a_job_is_raised_again_with_its_class_status_service_and_fix(raised, status, service):
    kept = error_of(raised)
    again = failure_of(JOB, "failed", kept)
    assert again.http_status == status and again.exit_code == raised.exit_code
    assert getattr(again, "service", None) == service
    assert again.message == raised.message and again.fix == raised.fix
    assert isinstance(again, ServiceError) == (service is not None)
    if isinstance(raised, ServiceBusy):
        assert isinstance(again, ServiceBusy) and again.retry_after_s == 7  # the API's Retry-After
    if isinstance(raised, CircuitOpen):
        assert isinstance(again, CircuitOpen)


def test_a_crash_in_the_worker_is_a_500_and_a_job_cancelled_before_it_ran_a_409():
    assert failure_of(JOB, "failed", error_of(KeyError("request"))).http_status == 500
    cancelled = failure_of(JOB, "cancelled", None)
    assert cancelled.http_status == 409 and JOB in cancelled.message


def test_only_an_outage_of_the_llm_endpoint_counts_on_a_breaker():
    assert is_llm_outage(error_of(ServiceError("llm", "cannot reach the local backend")))
    assert not is_llm_outage(error_of(CircuitOpen("open")))  # refused unsent: no new failure
    assert not is_llm_outage(error_of(ServiceError("postgres", "down")))
    assert not is_llm_outage(error_of(ServiceBusy("llm", "busy", retry_after_s=1)))
    assert not is_llm_outage(None)


def test_outcomes_recorded_from_jobs_open_the_breaker_and_a_success_after_the_timeout_closes_it():
    endpoint = "http://127.0.0.1:9/test-record"
    breaker, _ = breakers.breaker_for(endpoint)
    breaker.close()
    failure = ServiceError("llm", "cannot reach the local backend")
    for _ in range(breaker.fail_max):
        breakers.record(endpoint, failure)
    status = breakers.status(endpoint)
    assert status["state"] == "open" and status["failures"] == breaker.fail_max and status["opened_at"]
    breakers.record(endpoint, failure)  # open: fenced off, nothing more is counted, nothing raised
    assert breakers.status(endpoint)["failures"] == breaker.fail_max
    breaker.half_open()  # its reset timeout ran out: the next outcome is the trial
    breakers.record(endpoint, None)
    assert breakers.status(endpoint)["state"] == "closed"
