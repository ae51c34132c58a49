"""`invoke db.rotate-password`: a new random POSTGRES_PASSWORD, in the server and in the settings file.

A stack made before `invoke env` generated this password runs with the public default of
`.env.test.example` (`devmatrix`). Rotation is all-or-nothing: the role's password is
changed, the settings file is rewritten (0600, atomically), the new password is proven by a
fresh connection, and only then are the running programs that carry the old one (the API,
the postgres exporter, the backup scheduler) restarted. If the file cannot be written or the
new password does not open the server, the role gets its old password back and the file is
left as it was. The password never appears on a command line nor in any output.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

from psycopg2 import sql

from devmatrix import clients
from devmatrix.config import PUBLIC_DEFAULTS, Settings, load_settings
from devmatrix.errors import DevMatrixError
from devmatrix.results import CheckResult, Status
from devmatrix.stack import registry
from devmatrix.stack._secrets import write_private
from devmatrix.stack.providers import get_provider

VARIABLE = "POSTGRES_PASSWORD"
SECRET_BYTES = 32
# The programs started with the password in their settings or their env file: restarted after.
CARRIERS = ("api", "postgres-exporter", "backup-scheduler")
MAINTENANCE_DB = "postgres"


def uses_public_default(settings: Settings) -> bool:
    return settings.postgres_password.get_secret_value() == PUBLIC_DEFAULTS["postgres_password"]


def default_password_check(settings: Settings) -> CheckResult:
    """A warning line for phase1/env when the cluster still runs with the example's public password."""
    if not uses_public_default(settings):
        # SKIPPED, not PASS: phase1 reads PASS as "changed something", and a second run changes nothing
        return CheckResult("postgres password", Status.SKIPPED,
                           f"{VARIABLE} is this stack's own (random): nothing to rotate", critical=False)
    return CheckResult("postgres password", Status.NOT_CHECKED,
                       f"{VARIABLE} is the public default of .env.test.example — fix: `invoke db.rotate-password`",
                       critical=False)


def with_password(text: str, password: str) -> str:
    """The settings file's ``text`` with POSTGRES_PASSWORD set to ``password`` (added when absent)."""
    line = f"{VARIABLE}={password}"
    text, found = re.subn(rf"^{VARIABLE}=.*$", lambda _: line, text, count=1, flags=re.MULTILINE)
    if not found:
        text += ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    return text


def _set_role_password(settings: Settings, password: str) -> None:
    """ALTER ROLE with the password as a bound parameter (never in a logged command line)."""
    conn = clients.postgres_connect(settings, database=MAINTENANCE_DB, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(settings.postgres_user)),
                           (password,))
    finally:
        conn.close()


def _prove(settings: Settings) -> None:
    conn = clients.postgres_connect(settings, database=MAINTENANCE_DB)
    conn.close()


def rotate_postgres_password(env_file: Path, *, dry: bool = False,
                             echo: Callable[[str], None] = print) -> list[CheckResult]:
    settings = load_settings(env_file, require_file=True)
    if dry:
        return [CheckResult("postgres password", Status.SKIPPED,
                            f"would set a new random password for role {settings.postgres_user!r} on"
                            f" {settings.postgres_host}:{settings.postgres_port}, write it to {env_file},"
                            f" and restart the running {', '.join(CARRIERS)}")]
    _prove(settings)  # the current password opens the server: else nothing is changed
    old_text = env_file.read_text(encoding="utf-8")
    new = secrets.token_urlsafe(SECRET_BYTES)
    rotated = settings.model_copy(update={"postgres_password": type(settings.postgres_password)(new)})
    _set_role_password(settings, new)
    try:
        write_private(env_file, with_password(old_text, new), private_parent=False)
        _prove(rotated)
    except (OSError, DevMatrixError) as error:
        _set_role_password(rotated, settings.postgres_password.get_secret_value())
        if env_file.read_text(encoding="utf-8") != old_text:
            write_private(env_file, old_text, private_parent=False)
        raise DevMatrixError(f"password rotation undone: {error}",
                             fix=f"nothing changed: the role and {env_file} keep the old password;"
                                 " fix the cause above and run `invoke db.rotate-password` again") from error
    results = [CheckResult("postgres password", Status.PASS,
                           f"role {settings.postgres_user!r} has a new random password; {env_file} updated (0600)")]
    provider = get_provider(rotated, env_file=env_file, echo=echo)
    carriers = tuple(name for name in CARRIERS if registry.spec(name).runs_on(provider.name))
    running = [s.name for s in provider.status(carriers) if s.running]
    if running:
        provider.restart(tuple(running))
        results.append(CheckResult("restart", Status.PASS, f"restarted {', '.join(running)} with the new password"))
    return results
