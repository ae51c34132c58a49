"""Redis restore swaps the native server's RDB; under other providers it says exactly why not, and how."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from devmatrix.backup import redis as redis_backup
from devmatrix.errors import BackupError

pytestmark = pytest.mark.unit
RDB = Path("/backups/devmatrix-backup-1/redis/dump.rdb")


def test_the_native_provider_may_swap_the_rdb():
    redis_backup.require_native(SimpleNamespace(name="native"), RDB)


def test_under_compose_the_refusal_names_the_volume_and_gives_the_commands():
    with pytest.raises(BackupError) as caught:
        redis_backup.require_native(SimpleNamespace(name="compose"), RDB)
    assert "devmatrix-redis-data" in caught.value.message and "/data/dump.rdb" in caught.value.message
    assert "-v /backups/devmatrix-backup-1/redis:/backup:ro" in caught.value.fix
    assert caught.value.fix.count("docker compose -f infra/docker-compose.yml") == 2


def test_an_external_redis_is_not_ours_to_restore():
    with pytest.raises(BackupError, match="'external' provider"):
        redis_backup.require_native(SimpleNamespace(name="external"), RDB)


def test_the_named_volume_is_the_compose_files_redis_data():
    import yaml

    compose = yaml.safe_load(Path("infra/docker-compose.yml").read_text())
    assert compose["volumes"]["redis_data"]["name"] == redis_backup.COMPOSE_REDIS_VOLUME
    assert "redis_data:/data" in compose["services"]["redis"]["volumes"]
