"""Mutation scores from both tiers (devmatrix.testing.mutation_results): mutmut's meta files, the
integration pass's results file, and the combined score per package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devmatrix.errors import UsageError
from devmatrix.testing.mutation_results import (
    IntegrationResult,
    Outcome,
    UnitResult,
    load_integration,
    markdown,
    save_integration,
    scores,
    unit_outcome,
    unit_results,
)

pytestmark = pytest.mark.unit


def _meta(mutants: Path, module: str, codes: dict[str, int | None]) -> None:
    """A meta file as mutmut writes it beside mutants/src/devmatrix/<module>."""
    path = mutants / "src" / "devmatrix" / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))


def _integration(package: str, outcome: Outcome) -> IntegrationResult:
    return IntegrationResult(
        package=package, outcome=outcome, seconds=1.0, exit_code=None, commit="abc1234", tests=("tests/integration/x",)
    )


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (1, Outcome.KILLED),
        (3, Outcome.KILLED),
        (0, Outcome.SURVIVED),
        (5, Outcome.NO_TESTS),
        (33, Outcome.NO_TESTS),
        (36, Outcome.TIMEOUT),
        (-24, Outcome.TIMEOUT),
        (152, Outcome.TIMEOUT),
        (-11, Outcome.OTHER),
        (34, Outcome.OTHER),
    ],
)
def test_mutmuts_exit_codes_are_read_as_its_own_statuses(code, outcome):
    assert unit_outcome(code) is outcome


def test_a_timeout_is_a_kill_and_no_tests_is_not():
    assert Outcome.KILLED.caught and Outcome.TIMEOUT.caught
    assert not any(o.caught for o in (Outcome.SURVIVED, Outcome.NO_TESTS, Outcome.ERROR, Outcome.OTHER))


def test_meta_files_give_each_checked_mutant_its_package(tmp_path):
    _meta(
        tmp_path,
        "llm/cache.py",
        {"devmatrix.llm.cache.x_key__mutmut_1": 1, "devmatrix.llm.cache.x_key__mutmut_2": None},
    )
    _meta(tmp_path, "readiness.py", {"devmatrix.readiness.x_probe__mutmut_1": 0})
    _meta(tmp_path, "backup/postgres/dump.py", {"devmatrix.backup.postgres.dump.x_dump__mutmut_3": 33})

    assert unit_results(tmp_path) == {
        "devmatrix.llm.cache.x_key__mutmut_1": UnitResult("llm", Outcome.KILLED),
        # the probes are scored with the stack (they were ops/services/readiness.py)
        "devmatrix.readiness.x_probe__mutmut_1": UnitResult("stack", Outcome.SURVIVED),
        "devmatrix.backup.postgres.dump.x_dump__mutmut_3": UnitResult("backup", Outcome.NO_TESTS),
    }  # mutmut_2 was not checked yet: left out


def test_no_mutmut_results_is_a_usage_error_naming_the_session(tmp_path):
    with pytest.raises(UsageError, match="no mutmut results") as raised:
        unit_results(tmp_path)
    assert "nox -s mutation" in raised.value.fix


def test_the_integration_tier_adds_its_kills_of_the_unit_tiers_survivors():
    unit = {
        "k": UnitResult("llm", Outcome.KILLED),
        "t": UnitResult("llm", Outcome.TIMEOUT),
        "s1": UnitResult("llm", Outcome.SURVIVED),
        "s2": UnitResult("llm", Outcome.SURVIVED),
        "n1": UnitResult("llm", Outcome.NO_TESTS),
        "n2": UnitResult("llm", Outcome.NO_TESTS),
        "o": UnitResult("llm", Outcome.OTHER),
        "b": UnitResult("backup", Outcome.SURVIVED),
    }
    integration = {
        "s1": _integration("llm", Outcome.KILLED),
        "n1": _integration("llm", Outcome.TIMEOUT),
        "s2": _integration("llm", Outcome.SURVIVED),
        "k": _integration("llm", Outcome.SURVIVED),
    }  # stale: the unit tier kills it now

    llm = scores(unit, integration)["llm"]

    assert (llm.checked, llm.unit_caught, llm.integration_caught, llm.left) == (7, 2, 2, 1)
    assert llm.score(integration=False) == pytest.approx(2 / 7)
    assert llm.score(integration=True) == pytest.approx(4 / 7)
    backup = scores(unit, integration)["backup"]
    assert (backup.checked, backup.integration_caught, backup.left) == (1, 0, 1)


def test_a_sample_scores_only_its_own_mutants():
    unit = {
        "a": UnitResult("api", Outcome.KILLED),
        "b": UnitResult("api", Outcome.SURVIVED),
        "c": UnitResult("api", Outcome.SURVIVED),
    }
    integration = {"b": _integration("api", Outcome.KILLED), "c": _integration("api", Outcome.KILLED)}

    api = scores(unit, integration, only={"a", "b"})["api"]

    assert (api.checked, api.unit_caught, api.integration_caught) == (2, 1, 1)
    assert api.score(integration=True) == 1.0


def test_a_package_not_checked_has_no_score_and_the_table_says_so():
    table = scores({"a": UnitResult("llm", Outcome.SURVIVED)}, {"a": _integration("llm", Outcome.KILLED)})

    assert table["rag"].score(integration=True) is None
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown(table).splitlines()[2:]}
    assert rows["rag"] == "| rag | 0 | 0 (0) | 0 | 0 | not run | 0 | 0 (0) | 0 | - |"
    assert rows["llm"] == "| llm | 1 | 0 (0) | 1 | 0 | 0.0% | 1 | 1 (0) | 0 | 100.0% |"


def test_the_integration_results_file_reads_back_what_was_written(tmp_path):
    path = tmp_path / "integration-results.json"
    written = {
        "devmatrix.llm.cache.xǁCacheǁget__mutmut_2": IntegrationResult(
            package="llm",
            outcome=Outcome.KILLED,
            seconds=41.5,
            exit_code=1,
            commit="abc1234",
            tests=("tests/integration/llm",),
            failed=("tests/integration/llm/test_client_local.py::test_hit",),
        )
    }

    save_integration(path, written)

    assert load_integration(path) == written
    assert not path.with_suffix(".tmp").exists()


def test_no_integration_results_file_is_no_integration_results(tmp_path):
    assert load_integration(tmp_path / "integration-results.json") == {}


def test_a_results_file_of_another_shape_is_named_with_its_fix(tmp_path):
    path = tmp_path / "integration-results.json"
    path.write_text('{"devmatrix.llm.x": "killed"}')

    with pytest.raises(UsageError, match="is not the integration pass's results file") as raised:
        load_integration(path)
    assert f"delete {path}" in raised.value.fix
