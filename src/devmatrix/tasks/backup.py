"""`invoke backup` and `invoke backup.verify`: checksummed backups of Postgres, Redis and Chroma."""

from __future__ import annotations

from pathlib import Path

from devmatrix.backup import create_backup, manifest, schedule, verify_backup
from devmatrix.errors import ChecksFailed
from devmatrix.stack import get_provider
from devmatrix.tasks._common import (
    Folder,
    Number,
    console,
    echo,
    env_file,
    positional,
    print_json,
    print_result,
    settings,
    task,
)

# BACKUP_KEEP's own range (config/settings.py); 0 stands for it
KEEP = Number(1, 1000, default="BACKUP_KEEP")


@task(default=True, help={
    "to": "folder that holds the backups (default BACKUP_DIR, .devmatrix/backups)",
    "keep": "keep the newest N complete backups there, delete older ones (default BACKUP_KEEP, 7)",
    "dry": "print where the backup would go and what retention would delete; change nothing",
    "json": "print the result (path, bytes, seconds, manifest) as JSON",
}, checks={"to": Folder(), "keep": KEEP})
def backup(c, to="", keep=0, dry=False, json=False):
    """Back up Postgres (pg_dump), Redis (BGSAVE RDB) and Chroma (export) with a checksummed manifest."""
    s = settings()
    report = create_backup(s, to=Path(to) if to else None, keep=keep or None, dry=dry,
                           echo=(lambda _: None) if json else echo)
    if json:
        print_json(report.to_dict())
        return
    if dry:
        console.print(f"  would write {report.path}")
    else:
        m = report.manifest
        size = sum(f["bytes"] for f in m["files"].values())
        rows = sum(t["rows"] for t in m["postgres"]["tables"].values())
        records = sum(c["count"] for c in m["chroma"]["collections"].values())
        console.print(f"  [green]✓[/] {report.path} ({size / 1e6:.1f} MB, {len(m['files'])} files) in"
                      f" {report.seconds:.2f} s: postgres {rows} rows, redis {m['redis']['keys']} keys,"
                      f" chroma {len(m['chroma']['collections'])} collections / {records} records")
    verb = "would delete" if dry else "deleted"
    for path in report.removed:
        console.print(f"  {verb} old backup {path}")


@task(help={
    "path": "the backup folder, or `latest` for the newest under BACKUP_DIR",
    "json": "print the checks as JSON",
})
def verify(c, path, json=False):
    """Restore a backup into scratch places only and compare with its manifest (live data untouched)."""
    s = settings()
    folder = manifest.resolve(positional(path, task="backup.verify", name="backup folder"), s.backup_dir)
    results = verify_backup(s, folder, echo=(lambda _: None) if json else echo)
    ok = not any(r.failed for r in results)
    if json:
        print_json({"path": str(folder), "ok": ok, "checks": [r.to_dict() for r in results]})
    else:
        for result in results:
            print_result(result)
    if not ok:
        raise ChecksFailed(f"backup {folder} does not match its manifest (the failed checks are listed above)",
                           fix="take a new backup (`invoke backup`); restore only from one that verifies")
    if not json:
        console.print(f"  backup {folder} verified")


@task(name="schedule", help={
    "every": "interval between backups: a number and s, m, h or d (default 6h)",
    "keep": "complete backups to keep (default BACKUP_KEEP, 7)",
    "off": "stop scheduled backups (existing backups are kept)",
    "dry": "print what would change; change nothing",
}, checks={"keep": KEEP})
def schedule_backups(c, every="6h", keep=0, off=False, dry=False):
    """Back up on a timer under the native supervisor, or print the cron line for other providers."""

    s = settings()
    provider = get_provider(s, env_file=env_file(), echo=echo)
    if off:
        message = schedule.disable(s, provider, dry=dry)
    else:
        plan = schedule.Schedule(schedule.parse_every(every), keep or s.backup_keep)
        message = schedule.enable(s, plan, provider, project=Path.cwd(), dry=dry)
    console.print(f"  {message}")
