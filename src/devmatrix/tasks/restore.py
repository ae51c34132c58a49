"""`invoke restore --from DIR`: replace Postgres, Redis and Chroma with a verified backup."""

from __future__ import annotations

import sys
from contextlib import nullcontext

from devmatrix.backup import manifest, recover_restore, restore_backup
from devmatrix.checks.validate import run_validation
from devmatrix.errors import ChecksFailed, UsageError
from devmatrix.results import Status
from devmatrix.stack.stack_lock import stack_lock
from devmatrix.tasks._common import console, echo, positional, print_json, print_result, settings, task


def _confirm(plan: str) -> bool:
    """Asked by restore_backup after the backup's checksums passed."""
    if not sys.stdin.isatty():
        return False  # never guess a yes: restore_backup refuses and names --yes
    answer = input(f"The checksums match. {plan[0].upper()}{plan[1:]}? Type 'restore' to confirm: ")
    return answer.strip() == "restore"


@task(help={
    "from_": "the backup folder, or `latest` for the newest under BACKUP_DIR",
    "yes": "confirm without a prompt (required when stdin is not a terminal)",
    "dry": "check the backup's checksums and print the plan; change nothing",
    "json": "print the steps and the validation as JSON",
    "recover": "after a restore was killed half-way: put every store back as it was before it (or finish it,"
               " if it had swapped all three), from its journal; then validate",
})
def restore(c, from_=None, yes=False, dry=False, json=False, recover=False):
    """Restore all three stores from a backup (refuses a damaged one), then run validate."""
    s = settings()
    quiet = (lambda _: None) if json else echo
    if recover:
        folder = "the interrupted restore"
        with stack_lock(s.devmatrix_state_dir, "restore --recover", echo=echo):
            results = recover_restore(s, echo=quiet, then=run_validation)
    else:
        if from_ is None:
            raise UsageError("restore needs the backup to restore from",
                             fix="`invoke restore --from DIR` (or `--from latest`); after a killed restore,"
                                 " `invoke restore --recover`")
        folder = manifest.resolve(positional(from_, task="restore", name="backup folder"), s.backup_dir)
        with nullcontext() if dry else stack_lock(s.devmatrix_state_dir, "restore", echo=echo):
            results = restore_backup(s, folder, confirmed=yes, confirm=_confirm, dry=dry, echo=quiet,
                                     then=run_validation)
    failed = [r for r in results if r.failed and r.critical]
    if json:
        print_json({"path": None if recover else str(folder), "recover": recover, "dry": dry, "ok": not failed,
                    "steps": [r.to_dict() for r in results]})
    else:
        for result in results:
            print_result(result)
    if failed:
        raise ChecksFailed(f"{', '.join(r.name for r in failed)} failed (see above)")
    if not json and not dry:
        console.print(f"  [green]{'recovered' if recover else 'restored'}[/] {'' if recover else 'from '}{folder}; "
                      f"{sum(r.status is Status.PASS for r in results)}/{len(results)} steps and checks passed")
