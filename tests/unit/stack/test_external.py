"""The external provider: it checks the servers its settings name, and runs the workers itself."""

from __future__ import annotations

import pytest

from devmatrix.checks import validate
from devmatrix.config import Settings
from devmatrix.errors import ServiceError, UsageError
from devmatrix.jobs import service as workers
from devmatrix.stack import registry
from devmatrix.stack.compose import ComposeProvider
from devmatrix.stack.external import ExternalProvider

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path / "b", devmatrix_provider="external", worker_count=3)


def test_the_external_provider_runs_the_workers_here_and_only_checks_the_rest(settings, tmp_path):
    provider = ExternalProvider(settings, env_file=tmp_path / "b.env")
    assert registry.joined(settings) == provider.joined == ("worker",)
    assert provider.local is not None and tuple(provider.local.catalog) == ("worker",)
    assert provider.local.name == "external"  # one services.json record, not two providers'
    assert provider.local.pg_user is None  # no Postgres here: no account made for it
    assert provider._split(()) == (("postgres", "redis", "chroma", "llm", "api"), ("worker",))
    assert provider.logs("postgres") == "postgres is external: read its logs where it runs"
    with pytest.raises(UsageError, match="grafana: no such service"):
        provider._split(("grafana",))


def test_the_compose_checker_runs_nothing_itself(settings, tmp_path):
    checker = ComposeProvider(settings, env_file=tmp_path / "b.env").checker
    assert checker.joined == () and checker.local is None and checker.down() == []


def test_where_this_machine_runs_the_workers_they_are_checked_by_their_own_node_names(settings):
    worker = registry.spec("worker")
    assert registry.runs_here(worker, "native") and registry.runs_here(worker, "external")
    assert not registry.runs_here(worker, "compose")  # compose's replicas have names of their own
    assert worker.local_probe() is workers.own_readiness and worker.probe is workers.readiness
    assert not registry.runs_here(registry.spec("postgres"), "external")


def test_two_stacks_never_share_a_node_name(settings, tmp_path):
    b = workers.own_nodes(settings)
    a = workers.own_nodes(settings.model_copy(update={"devmatrix_state_dir": tmp_path / "a", "worker_count": 2}))
    assert [n.split("@")[0] for n in b] == ["worker-0", "worker-1", "worker-2"]
    assert not set(a) & set(b)


def test_another_machines_worker_passes_for_compose_but_not_for_a_machine_that_runs_its_own(settings, monkeypatch):
    """The broker answers with another machine's node only: validate's worker check passes where any
    node will do (compose's replicas), and fails naming this stack's own nodes where it runs them."""
    monkeypatch.setattr(workers, "ping", lambda s, timeout_s=2.0, *, limit=None, destination=None:
                        [n for n in ["worker-0@other-host.0123abcd"] if destination is None or n in destination])
    assert "worker-0@other-host" in validate.checks("compose")["worker"](settings).detail
    for provider in ("external", "native"):
        with pytest.raises(ServiceError, match=r"none of this stack's workers \(worker-0@.*worker-2@"):
            validate.checks(provider)["worker"](settings)
