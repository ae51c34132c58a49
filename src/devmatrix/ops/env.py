"""Phase `env` (seed §1.2): the settings file exists, parses, and the LLM answers."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from devmatrix.agents.approval import gate_line
from devmatrix.config import Settings, load_settings
from devmatrix.ops.checks import CheckResult, Status, timed

EXAMPLE_FILE = Path(".env.test.example")
# Written with a fresh random value into every new .env.test (never the example's public value).
GENERATED_SECRETS = ("API_TOKEN", "REDIS_PASSWORD")
SECRET_BYTES = 32


def ensure_env_file(env_file: Path, *, example: Path = EXAMPLE_FILE, dry: bool = False) -> CheckResult:
    """Create the settings file from the example when missing; never overwrite it."""
    if env_file.exists():
        return CheckResult("env file", Status.SKIPPED, f"{env_file} exists; left unchanged")
    if not example.exists():
        return CheckResult("env file", Status.FAIL, f"neither {env_file} nor {example} exists")
    if dry:
        return CheckResult("env file", Status.SKIPPED, f"would copy {example} to {env_file}"
                           f" with a random {' and '.join(GENERATED_SECRETS)}")
    text = example.read_text(encoding="utf-8")
    for name in GENERATED_SECRETS:
        text = re.sub(rf"^{name}=.*$", f"{name}={secrets.token_urlsafe(SECRET_BYTES)}", text, count=1,
                      flags=re.MULTILINE)
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds secrets from birth
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return CheckResult("env file", Status.PASS, f"created {env_file} from {example}"
                       f" with a random {' and '.join(GENERATED_SECRETS)}")


def validate_env_file(env_file: Path) -> tuple[Settings, CheckResult]:
    """Load the file strictly: every problem is reported at once (ConfigError)."""
    with timed() as elapsed:
        settings = load_settings(env_file, require_file=True)
    backend = settings.resolved_llm_backend
    return settings, CheckResult(
        "settings", Status.PASS, f"{env_file} is valid; LLM backend: {backend}; {gate_line(settings)}",
        seconds=elapsed()
    )


def check_llm_backend(settings: Settings) -> CheckResult:
    """One known-answer round trip (2 + 2) to the configured backend; the answer is checked."""
    from devmatrix.llm import check_backend  # the SDK is heavy: only when checking

    backend = settings.resolved_llm_backend
    with timed() as elapsed:
        ok, detail = check_backend(settings)
    return CheckResult(f"llm ({backend})", Status.PASS if ok else Status.FAIL, detail,
                       seconds=elapsed())
