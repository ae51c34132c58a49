"""Phase `env` (seed §1.2): the settings file exists, parses, and the LLM answers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import requests

from devmatrix import (
    clients,
    llm,  # its client (the anthropic SDK, seconds to import) loads at the check, not here
)
from devmatrix.agents.approval import gate_line
from devmatrix.config import Settings, load_settings
from devmatrix.deadlines import LLM_CHECK_BUDGET_S, LLM_CHECK_MIN_S, PROBE_TIMEOUT_S
from devmatrix.errors import LLMError, ServiceError, ServiceTimeout
from devmatrix.results import CheckResult, Status, timed

EXAMPLE_FILE = Path(".env.test.example")
# Written with a fresh random value into every new .env.test (never the example's public value).
GENERATED_SECRETS = ("API_TOKEN", "REDIS_PASSWORD", "POSTGRES_PASSWORD")
SECRET_BYTES = 32
# In the state dir: the fingerprint of the last LLM check that passed (see check_llm_backend).
LLM_STAMP = "llm-check.json"


def ensure_env_file(env_file: Path, *, example: Path = EXAMPLE_FILE, dry: bool = False) -> CheckResult:
    """Create the settings file from the example when missing; never overwrite it."""
    if env_file.exists():
        return CheckResult("env file", Status.SKIPPED, f"{env_file} exists; left unchanged")
    if not example.exists():
        return CheckResult("env file", Status.FAIL, f"neither {env_file} nor {example} exists")
    if dry:
        return CheckResult("env file", Status.SKIPPED, f"would copy {example} to {env_file}"
                           f" with a random {', '.join(GENERATED_SECRETS)}")
    text = example.read_text(encoding="utf-8")
    for name in GENERATED_SECRETS:
        text = re.sub(rf"^{name}=.*$", f"{name}={secrets.token_urlsafe(SECRET_BYTES)}", text, count=1,
                      flags=re.MULTILINE)
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds secrets from birth
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return CheckResult("env file", Status.PASS, f"created {env_file} from {example}"
                       f" with a random {', '.join(GENERATED_SECRETS)}")


def validate_env_file(env_file: Path) -> tuple[Settings, CheckResult]:
    """Load the file strictly: every problem is reported at once (ConfigError)."""
    with timed() as elapsed:
        settings = load_settings(env_file, require_file=True)
    backend = settings.resolved_llm_backend
    return settings, CheckResult(
        "settings", Status.PASS, f"{env_file} is valid; LLM backend: {backend}; {gate_line(settings)}",
        seconds=elapsed()
    )


def check_llm_backend(settings: Settings, *, unless_unchanged: bool = False) -> CheckResult:
    """One known-answer round trip (2 + 2) to the configured backend; the answer is checked.

    ``unless_unchanged`` (a second `phase1`): not asked again when the last check passed with the
    same backend, model, address and key (the stamp in the state dir says so; `invoke env` always
    asks). A failed check removes the stamp, so the next run asks again."""
    backend = settings.resolved_llm_backend
    stamp = llm_stamp_path(settings)
    fingerprint = llm_fingerprint(settings)
    if unless_unchanged:
        checked_at = _stamped(stamp, fingerprint)
        if checked_at:
            return CheckResult(f"llm ({backend})", Status.SKIPPED,
                               f"answered 2 + 2 at {checked_at} with this backend, model, address and key;"
                               " nothing changed since, so not asked again (`invoke env` asks)")
    with timed() as elapsed:
        try:
            detail, ok = _ask_two_plus_two(settings), True
        except (LLMError, ServiceError) as error:  # a row of the check table: what failed — fix: how
            detail, ok = str(error), False
    if ok and detail.startswith(SERVING):
        return CheckResult(f"llm ({backend})", Status.PASS, detail, seconds=elapsed())  # busy: nothing to stamp
    if ok:
        _write_stamp(stamp, fingerprint)
    else:
        stamp.unlink(missing_ok=True)
    return CheckResult(f"llm ({backend})", Status.PASS if ok else Status.FAIL, detail,
                       seconds=elapsed())


SERVING = "serving:"


def warm_up_llm_check(settings: Settings) -> threading.Thread | None:
    """When the LLM check will ask (no passing stamp for these settings), import its client (the
    anthropic SDK: about 2 CPU-s) on a thread now, while phase1 waits for the servers to start,
    instead of on the critical path after them. Nothing to warm up when the check will be skipped."""
    if _stamped(llm_stamp_path(settings), llm_fingerprint(settings)):
        return None
    thread = threading.Thread(target=_import_llm_client, name="warm-llm", daemon=True)
    thread.start()
    return thread


def _import_llm_client() -> None:
    # the import lock makes the check's own import wait for this one, never run it twice; one
    # that fails is left to the check, which imports it again and says what is missing
    with contextlib.suppress(ImportError):
        import_module("devmatrix.llm.client")


def _ask_two_plus_two(settings: Settings) -> str:
    """The check's detail, all within LLM_CHECK_BUDGET_S. Busy is not down: on the local server,
    when 2 + 2 cannot get a slot (every slot decoding, before or while it waits), the server
    that answers /slots at once with its slots at work is serving, and the check says so."""
    if settings.resolved_llm_backend != "local":
        return llm.check_backend(settings)
    started = time.monotonic()
    if busy := _local_slots_decoding(settings, every=True):
        return (f"{SERVING} all {busy} slots of {settings.resolved_llm_base_url} are decoding;"
                " 2 + 2 not asked (it would wait for a free slot)")
    # what is left of the budget, less one /slots probe kept back for the look below
    left = LLM_CHECK_BUDGET_S - (time.monotonic() - started) - PROBE_TIMEOUT_S
    try:
        # /slots has just answered, or said nothing usable and 2 + 2 will name the trouble
        return llm.check_backend(settings, deadline_s=max(left, LLM_CHECK_MIN_S), probe_first=False)
    except ServiceTimeout as error:  # not a refusal or a dead server: those fail as they are
        if busy := _local_slots_decoding(settings, every=False):
            return (f"{SERVING} 2 + 2 got no slot within {max(left, LLM_CHECK_MIN_S):.1f} s ({error.message});"
                    f" {busy} slot(s) of {settings.resolved_llm_base_url} decoding other requests: busy, not down")
        raise


def _local_slots_decoding(settings: Settings, *, every: bool) -> int:
    """How many of the local server's slots are decoding: when ``every``, their count only if all
    are (else 0). 0 too when /slots gives no usable answer (the 2 + 2 round trip then decides,
    and names what failed); a /slots that does not answer within the probe deadline is a frozen
    server, said at once."""
    key = settings.llm_local_api_key.get_secret_value()
    url = f"{settings.resolved_llm_base_url}/slots"
    try:
        response = requests.get(url, timeout=PROBE_TIMEOUT_S, headers={"Authorization": f"Bearer {key}"})
        response.raise_for_status()
        slots = response.json()
    except requests.Timeout:  # frozen: say so now, inside validate's deadline (the one mapping)
        with clients.map_exceptions("llm", f"no answer from {url} within {PROBE_TIMEOUT_S:g} s: frozen or"
                                           " overloaded", fix=clients.fix_for("llm", "LLM")):
            raise
    except (requests.RequestException, ValueError):
        return 0
    if not isinstance(slots, list) or not slots:
        return 0
    decoding = sum(1 for slot in slots if isinstance(slot, dict) and slot.get("is_processing"))
    return (decoding if decoding == len(slots) else 0) if every else decoding


def llm_stamp_path(settings: Settings) -> Path:
    return settings.devmatrix_state_dir / LLM_STAMP


def llm_fingerprint(settings: Settings) -> str:
    """What the LLM check depends on, hashed: backend, model, address and key (never the key itself)."""
    local = settings.resolved_llm_backend == "local"
    key = settings.llm_local_api_key if local else settings.anthropic_api_key
    parts = {"backend": settings.resolved_llm_backend, "model": "local" if local else settings.anthropic_model,
             "base_url": settings.resolved_llm_base_url,
             "key_sha256": hashlib.sha256((key.get_secret_value() if key else "").encode()).hexdigest()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _stamped(stamp: Path, fingerprint: str) -> str | None:
    """When the last passing check with ``fingerprint`` ran, or None."""
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("fingerprint") != fingerprint:
        return None
    return str(recorded.get("checked_at") or "") or None


def _write_stamp(stamp: Path, fingerprint: str) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    tmp = stamp.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"fingerprint": fingerprint, "checked_at": checked_at}, out)
    tmp.replace(stamp)
