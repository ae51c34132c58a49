"""The env step's LLM check: a second phase1 does not ask the model again when nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydantic import SecretStr

from _fixtures.http_server import http_server
from devmatrix.checks.validate import VALIDATE_WAIT_S
from devmatrix.config import Settings
from devmatrix.deadlines import LLM_CHECK_BUDGET_S
from devmatrix.results import CheckResult, Status
from devmatrix.setup.env import _write_stamp, check_llm_backend, llm_fingerprint, llm_stamp_path

pytestmark = pytest.mark.unit

KEY = "local-key-never-written-anywhere"  # pragma: allowlist secret - a test value


@pytest.fixture
def settings(tmp_path, closed_port) -> Settings:
    """The local backend on a port where nothing listens: a check that really asks fails at once."""
    return Settings(devmatrix_state_dir=tmp_path / "state", llm_backend="local", llm_port=closed_port,
                    llm_local_api_key=KEY, llm_retry_window_s=0)


@pytest.mark.parametrize("change", [{"llm_local_api_key": SecretStr("another-key")}, {"llm_port": 1},
                                    {"llm_backend": "anthropic", "anthropic_api_key": SecretStr("sk-ant-x")}])
def test_the_fingerprint_follows_backend_address_and_key(settings, change):
    assert llm_fingerprint(settings) == llm_fingerprint(settings.model_copy())
    assert llm_fingerprint(settings) != llm_fingerprint(settings.model_copy(update=change))


def test_the_paid_model_is_part_of_the_fingerprint(settings):
    paid = settings.model_copy(update={"llm_backend": "anthropic", "anthropic_api_key": SecretStr("sk-ant-x")})
    assert llm_fingerprint(paid) != llm_fingerprint(paid.model_copy(update={"anthropic_model": "claude-other"}))


def test_an_unchanged_backend_is_not_asked_again_and_the_stamp_never_holds_the_key(settings):
    _write_stamp(llm_stamp_path(settings), llm_fingerprint(settings))
    stamp = llm_stamp_path(settings)
    assert KEY not in stamp.read_text() and oct(stamp.stat().st_mode & 0o777) == "0o600"
    result = check_llm_backend(settings, unless_unchanged=True)  # nothing listens: asking would FAIL
    assert result.status is Status.SKIPPED and "not asked again" in result.detail, result.detail
    assert result.name == "llm (local)"


def test_invoke_env_always_asks_and_a_failure_removes_the_stamp(settings):
    _write_stamp(llm_stamp_path(settings), llm_fingerprint(settings))
    assert check_llm_backend(settings).status is Status.FAIL  # no unless_unchanged: asked, and nothing answers
    assert not llm_stamp_path(settings).exists()  # so the next phase1 asks again


def test_a_changed_key_is_asked_again(settings):
    old = settings.model_copy(update={"llm_local_api_key": SecretStr("old")})
    _write_stamp(llm_stamp_path(settings), llm_fingerprint(old))
    assert check_llm_backend(settings, unless_unchanged=True).status is Status.FAIL
    assert not llm_stamp_path(settings).exists()


def test_a_damaged_stamp_means_ask(settings):
    llm_stamp_path(settings).parent.mkdir(parents=True)
    llm_stamp_path(settings).write_text("{not json")
    assert check_llm_backend(settings, unless_unchanged=True).status is Status.FAIL
    llm_stamp_path(settings).parent.mkdir(parents=True, exist_ok=True)
    llm_stamp_path(settings).write_text(json.dumps(["a list"]))
    assert check_llm_backend(settings, unless_unchanged=True).status is Status.FAIL


def _slots_server(slots: list[dict], seen: list[str], *, hang: threading.Event | None = None):
    """/slots answers ``slots``; the 2 + 2 POST gets a 404, or (``hang``) no answer until it is set."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            if self.command == "POST" and hang is not None:
                hang.wait(30)  # a server whose slots are all taken by others: the request waits
            body = json.dumps(slots if self.path == "/slots" else {"error": "not found"}).encode()
            self.send_response(200 if self.path == "/slots" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # the 2 + 2 round trip: refused with a 404

        def log_message(self, *args):
            pass

    return Handler


def _check_with_slots(tmp_path: Path, processing: list[bool]) -> tuple[CheckResult, list[str], int]:
    """check_llm_backend against a local server whose slots decode as ``processing`` says."""
    seen: list[str] = []
    slots = [{"id": n, "is_processing": busy} for n, busy in enumerate(processing)]
    with http_server(_slots_server(slots, seen)) as port:
        result = check_llm_backend(Settings(llm_backend="local", llm_port=port, devmatrix_state_dir=tmp_path))
    return result, seen, port


def test_a_local_server_whose_every_slot_is_decoding_is_serving_not_down(tmp_path):
    # busy is not down: 2 + 2 would wait 20-25 s for a slot and fail validate's 10 s deadline
    result, seen, port = _check_with_slots(tmp_path, [True, True])
    assert result.status is Status.PASS
    assert result.detail.startswith(f"serving: all 2 slots of http://127.0.0.1:{port} are decoding")
    assert seen == ["/slots"]  # 2 + 2 was not asked


def test_a_local_server_with_a_free_slot_is_asked_2_plus_2(tmp_path):
    result, seen, _ = _check_with_slots(tmp_path, [True, False])
    assert "/slots" in seen and len(seen) > 1  # then the round trip (this server cannot answer it)
    assert result.status is Status.FAIL


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("processing", "status"), [(True, Status.PASS), (False, Status.FAIL)],
                         ids=["a-slot-decoding-is-busy", "no-slot-decoding-is-hung"])
def test_a_2_plus_2_that_waits_past_its_deadline_is_busy_only_while_slots_decode(tmp_path, processing, status):
    # under load, 2 + 2 waited behind other generations past validate's deadline (CI, 2026-12-06);
    # a server that answers /slots at once and decodes in a slot is serving, one that decodes
    # nothing and answers nothing is hung
    seen: list[str] = []
    release = threading.Event()
    slots = [{"id": 0, "is_processing": processing}, {"id": 1, "is_processing": False}]
    try:
        with http_server(_slots_server(slots, seen, hang=release)) as port:
            settings = Settings(llm_backend="local", llm_port=port, devmatrix_state_dir=tmp_path, llm_retry_window_s=0)
            started = time.monotonic()
            result = check_llm_backend(settings)
            took = time.monotonic() - started
            release.set()
    finally:
        release.set()
    assert result.status is status, result.detail
    assert seen.count("/slots") == 2 and "/v1/messages" in seen  # looked, asked, looked again
    if status is Status.PASS:
        assert result.detail.startswith("serving: 2 + 2 got no slot within") and "busy, not down" in result.detail
    else:
        assert "gave no complete reply" in result.detail or "went silent" in result.detail, result.detail
    # LLM_CHECK_BUDGET_S (8.5 s) bounds the check; +1 s for a busy machine's thread switches
    assert took < LLM_CHECK_BUDGET_S + 1.0
    assert not llm_stamp_path(settings).exists()  # busy or hung: nothing was checked, nothing stamped


def test_the_llm_check_fits_inside_validates_wait():
    assert LLM_CHECK_BUDGET_S + 0.5 <= VALIDATE_WAIT_S


WARM_UP = """
import os
import sys
from devmatrix.config import Settings
from devmatrix.setup.env import warm_up_llm_check
thread = warm_up_llm_check(Settings(devmatrix_state_dir=sys.argv[1], llm_backend="local", llm_port=int(sys.argv[2]),
                                    llm_local_api_key=os.environ["WARM_UP_KEY"]))
if thread is not None:
    thread.join(120)
print("warmed" if "anthropic" in sys.modules else "cold")
"""


def test_phase1_imports_the_llm_client_while_servers_start_only_when_the_check_will_ask(settings, tmp_path):
    # the check's client (the anthropic SDK) took 2 s of `env` on the critical path of a first phase1
    def warm_up() -> str:
        ran = subprocess.run([sys.executable, "-c", WARM_UP, str(settings.devmatrix_state_dir), str(settings.llm_port)],
                             capture_output=True, text=True, timeout=120, check=True,
                             env={**os.environ, "WARM_UP_KEY": KEY})
        assert not ran.stderr.strip(), ran.stderr  # a thread that failed would print its traceback
        return ran.stdout.strip()

    assert warm_up() == "warmed"
    _write_stamp(llm_stamp_path(settings), llm_fingerprint(settings))  # a second phase1 does not ask
    assert warm_up() == "cold"
