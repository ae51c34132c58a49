"""services.json: every provider's `up` writes it, so smoke and scripts read it under each."""

from __future__ import annotations

import json

import pytest

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.stack.base import ServiceState, record
from devmatrix.stack.external import ExternalProvider

pytestmark = pytest.mark.unit


def test_a_record_keeps_untouched_services_of_its_provider_and_drops_another_providers(tmp_path):
    path = tmp_path / "services.json"
    record(path, "native", [ServiceState("redis", "redis://x", 1), ServiceState("chroma", "http://x", 2)])
    record(path, "native", [ServiceState("redis", "redis://x", 1, healthy=True)])
    assert set(json.loads(path.read_text())["services"]) == {"redis", "chroma"}
    record(path, "external", [ServiceState("postgres", "postgresql://x", 3)])
    written = json.loads(path.read_text())
    assert written["provider"] == "external" and set(written["services"]) == {"postgres"}


def test_external_up_records_what_it_found_even_when_a_server_does_not_answer(tmp_path, closed_port):
    settings = Settings(devmatrix_state_dir=tmp_path, chromadb_port=closed_port, llm_backend="local")
    with pytest.raises(ServiceError, match="chroma"):
        ExternalProvider(settings).up(("chroma",))
    written = json.loads(settings.services_file.read_text())
    assert written["provider"] == "external"
    assert written["services"]["chroma"]["healthy"] is False
    assert written["services"]["chroma"]["port"] == closed_port
