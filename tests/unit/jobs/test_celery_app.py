"""The Celery app's delivery settings: each one avoids a failure Celery-on-Redis users meet."""

from __future__ import annotations

import pytest

from devmatrix.config import Settings
from devmatrix.deadlines import GENERATE_DEADLINE_S
from devmatrix.jobs import _constants
from devmatrix.jobs.app import broker_address, broker_url, make_app

pytestmark = pytest.mark.unit


@pytest.fixture
def conf():
    return make_app(Settings(redis_port=16379, redis_password="p@ss/word")).conf  # pragma: allowlist secret


def test_a_message_is_acknowledged_when_its_job_ends_and_given_back_when_its_worker_dies(conf):
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True


def test_a_worker_reserves_one_message_per_free_process(conf):
    assert conf.worker_prefetch_multiplier == 1


def test_the_time_limits_come_from_the_generation_deadline_soft_below_hard(conf):
    assert GENERATE_DEADLINE_S < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_time_limit == _constants.HARD_TIME_LIMIT_S


def test_a_running_job_is_never_handed_to_a_second_worker_visibility_above_the_hard_limit(conf):
    # kombu's Redis transport reads it from broker_transport_options, nowhere else
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_celery_keeps_no_results_postgres_does(conf):
    assert conf.task_ignore_result is True and conf.result_backend is None


def test_redelivery_is_bounded():
    assert 1 < _constants.MAX_ATTEMPTS <= 5


def test_the_broker_url_quotes_the_password_and_messages_never_show_it():
    settings = Settings(redis_port=16379, redis_password="p@ss/word")  # pragma: allowlist secret
    assert broker_url(settings) == "redis://:p%40ss%2Fword@127.0.0.1:16379/1"
    assert "word" not in broker_address(settings)


def test_a_message_past_its_visibility_timeout_is_restored_within_one_sweep_interval(conf):
    options = conf.broker_transport_options
    # kombu 5.7 scans only every `unacked_restore_throttle`-th sweep (default 10 x 10 s = 100 s)
    assert options["unacked_restore_throttle"] == 1
    assert options["unacked_restore_interval"] == _constants.RESTORE_INTERVAL_S


def test_each_queue_keeps_its_unacknowledged_messages_apart_and_jobs_go_to_the_settings_queue():
    ours = make_app(Settings(worker_queue="team-a")).conf
    theirs = make_app(Settings(worker_queue="team-b")).conf
    assert ours.task_default_queue == "team-a"
    for key in ("unacked_key", "unacked_index_key", "unacked_mutex_key"):
        assert ours.broker_transport_options[key] != theirs.broker_transport_options[key]
        assert ours.broker_transport_options[key].endswith(":team-a")


def test_a_shorter_visibility_timeout_is_only_what_a_worker_is_told():
    assert make_app(Settings(), visibility_timeout_s=8).conf.broker_transport_options["visibility_timeout"] == 8
    assert make_app(Settings()).conf.broker_transport_options["visibility_timeout"] == _constants.VISIBILITY_TIMEOUT_S
