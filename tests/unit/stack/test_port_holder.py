"""A busy port: a new port is suggested only when the holder is not this stack's own process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devmatrix.config import Settings
from devmatrix.errors import PortInUse, ServiceError
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


@pytest.fixture
def stack(tmp_path: Path) -> NativeProvider:
    settings = Settings(devmatrix_state_dir=tmp_path / "state", redis_port=free_port(), llm_backend="local")
    return NativeProvider(settings, env_file=tmp_path / ".env.test", echo=lambda _: None)


def test_a_foreign_holder_gets_the_set_a_free_port_fix(stack, spawn):
    holder = spawn(f"listen={stack.settings.redis_port}")
    with pytest.raises(PortInUse) as caught:
        stack._check_port_free(stack.catalog["redis"], {})
    assert f"in use by pid {holder.pid}" in str(caught.value)
    assert "set REDIS_PORT to a free port" in str(caught.value)


def test_our_own_holder_outside_the_supervisor_gets_the_down_then_up_fix(stack, spawn):
    # started by this stack's supervisord (which since died): ours, whatever its name
    env = {**os.environ, "SUPERVISOR_SERVER_URL": stack.identity.supervisor_url, "SUPERVISOR_PROCESS_NAME": "redis"}
    holder = spawn(f"listen={stack.settings.redis_port}", env=env)
    with pytest.raises(ServiceError) as caught:
        stack._check_port_free(stack.catalog["redis"], {})
    message = str(caught.value)
    assert not isinstance(caught.value, PortInUse)
    assert f"held by this stack's own pid {holder.pid}" in message
    assert "REDIS_PORT" not in message
    assert "fix: `invoke infra.down`" in message
