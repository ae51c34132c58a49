"""Data safety (seed §5.3): backups that can be trusted (`invoke backup`, `backup.verify`, `restore`),
and `invoke cleanup` of test data.

- backup: Postgres (pg_dump -Fc in one snapshot), Redis (BGSAVE → RDB,
  redis-check-rdb), Chroma (export over its HTTP API) into a new folder with a
  manifest of versions, sizes, sha256 and counts; then retention of the last N.
- verify: restores into scratch places only (a scratch database, a scratch
  redis-server, a scratch Chroma server on a temp directory) and compares with
  the manifest. Live data is never touched.
- restore: refuses a backup that does not match its manifest (naming the file),
  needs confirmation, restores all three, compares with the manifest, then
  runs `validate`.
"""

from devmatrix.backup.folder import BackupReport, create_backup, recover_restore, restore_backup, verify_backup

__all__ = ["BackupReport", "create_backup", "recover_restore", "restore_backup", "verify_backup"]
