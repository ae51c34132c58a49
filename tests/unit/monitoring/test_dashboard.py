"""The committed Grafana files: generated from PANELS, consistent with each other and with compose."""

from __future__ import annotations

import json
from importlib.metadata import version
from itertools import combinations
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from devmatrix.monitoring import dashboard
from devmatrix.monitoring.panels import DASHBOARD_TITLE, DASHBOARD_UID, PANELS

pytestmark = pytest.mark.unit

COMPOSE = Path("infra/docker-compose.yml")
# The seed's seven panels (§3.4), in the order the dashboard shows them.
SEED_TITLES = [
    "API Request Rate",
    "API Response Time (p95)",
    "LLM API Calls",
    "Code Generation Success Rate",
    "PostgreSQL Connections",
    "Redis Memory Usage",
    "RAG Vector Store Size",
]
# Then the jobs' four (issue 24): the queue, the workers, runtimes, failures.
JOB_TITLES = ["Jobs Waiting in the Queue", "Workers Online", "Job Runtime (p95)", "Job Failures"]


@pytest.fixture(scope="module")
def board() -> dict:
    return json.loads(dashboard.DASHBOARD_FILE.read_text())


@pytest.fixture(scope="module")
def provisioned_datasource() -> dict:
    (source,) = yaml.safe_load(dashboard.DATASOURCE_FILE.read_text())["datasources"]
    return source


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _datasource_refs(node: object) -> list[dict]:
    if isinstance(node, dict):
        own = [node["datasource"]] if "datasource" in node else []
        return own + [ref for value in node.values() for ref in _datasource_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _datasource_refs(item)]
    return []


def test_committed_files_are_what_the_code_generates(capsys):
    assert dashboard.main(["--check"]) == 0, capsys.readouterr().err


def test_check_names_a_stale_or_missing_file_and_changes_nothing(tmp_path, capsys):
    dashboard.write_all(tmp_path)
    edited = tmp_path / dashboard.DASHBOARD_FILE
    edited.write_text(edited.read_text().replace("now-1h", "now-6h"))
    (tmp_path / dashboard.PROVIDER_FILE).unlink()

    assert dashboard.main(["--check", "--root", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert str(dashboard.DASHBOARD_FILE) in err and str(dashboard.PROVIDER_FILE) in err
    assert str(dashboard.DATASOURCE_FILE) not in err
    assert "now-6h" in edited.read_text() and not (tmp_path / dashboard.PROVIDER_FILE).exists()


def test_write_all_writes_the_three_files_and_check_then_passes(tmp_path):
    written = dashboard.write_all(tmp_path)

    assert written == [tmp_path / dashboard.DASHBOARD_FILE, tmp_path / dashboard.DATASOURCE_FILE,
                       tmp_path / dashboard.PROVIDER_FILE]
    text = written[0].read_text()
    assert text.endswith("}\n") and text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert dashboard.stale(tmp_path) == []


def test_dashboard_identity(board):
    assert (board["title"], board["uid"]) == (DASHBOARD_TITLE, DASHBOARD_UID) == ("DevMatrix - Overview",
                                                                                  "devmatrix-overview")
    assert board["tags"] == ["devmatrix", "overview"]
    assert board["time"] == {"from": "now-1h", "to": "now"} and board["refresh"] == "10s"
    assert board["schemaVersion"] >= 39


def test_dashboard_has_exactly_the_seed_panels_then_the_jobs_panels_in_order(board):
    assert [panel["title"] for panel in board["panels"]] == SEED_TITLES + JOB_TITLES


@pytest.mark.parametrize("seed", PANELS, ids=lambda p: p.title)
def test_each_panel_renders_its_seed_definition(board, seed):
    (panel,) = [p for p in board["panels"] if p["id"] == seed.id]
    (target,) = panel["targets"]
    assert (panel["title"], panel["type"]) == (seed.title, seed.kind)
    assert (target["expr"], target["legendFormat"], target["refId"]) == (seed.expr, seed.legend, "A")
    assert panel["fieldConfig"]["defaults"]["unit"] == seed.unit
    assert panel.get("description") == (seed.why or None)


def test_gauge_is_a_bounded_percentage_with_thresholds(board):
    (panel,) = [p for p in board["panels"] if p["type"] == "gauge"]
    defaults = panel["fieldConfig"]["defaults"]
    assert (defaults["min"], defaults["max"]) == (0, 100)
    steps = defaults["thresholds"]["steps"]
    assert steps[0]["value"] is None and len(steps) >= 2  # Grafana's base step has no value


def test_every_datasource_reference_resolves_to_the_provisioned_one(board, provisioned_datasource):
    refs = _datasource_refs(board)
    assert len(refs) >= 2 * len(PANELS)  # one per panel and one per target
    for ref in refs:
        assert ref == {"type": provisioned_datasource["type"], "uid": provisioned_datasource["uid"]}


def test_panels_tile_the_grid_without_overlap(board):
    boxes = [panel["gridPos"] for panel in board["panels"]]
    for box in boxes:
        assert box["x"] >= 0 and box["x"] + box["w"] <= 24 and box["h"] > 0
    for a, b in combinations(boxes, 2):
        apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                 or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
        assert apart, f"{a} overlaps {b}"
    rows: dict[int, int] = {}
    for box in boxes:
        rows[box["y"]] = rows.get(box["y"], 0) + box["w"]
    assert set(rows.values()) == {24}, f"rows with holes: {rows}"


def test_datasource_is_the_default_proxy_to_compose_prometheus(provisioned_datasource, compose):
    assert provisioned_datasource["isDefault"] is True and provisioned_datasource["access"] == "proxy"
    url = urlsplit(provisioned_datasource["url"])
    service = compose["services"][url.hostname]
    assert any(str(port).endswith(f":{url.port}") for port in service["ports"])


def test_dashboards_provider_reads_the_directory_compose_mounts(compose):
    (provider,) = yaml.safe_load(dashboard.PROVIDER_FILE.read_text())["providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    volumes = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in volumes
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert (COMPOSE.parent / "grafana/dashboards" / dashboard.DASHBOARD_FILE.name).is_file()


def test_grafana_image_matches_the_schema_the_sdk_generates(compose):
    # "1769699379!11.6.0": the part after the epoch is the Grafana version the SDK targets
    sdk_grafana = version("grafana-foundation-sdk").split("!")[-1].split(".")[:2]
    image_tag = compose["services"]["grafana"]["image"].rpartition(":")[2]
    assert image_tag.split(".")[:2] == sdk_grafana
