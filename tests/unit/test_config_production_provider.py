"""ENVIRONMENT=production checks the binds of the servers this machine starts: under `auto`
(the default, which picks the native provider where no Docker engine answers) as under `native`;
only `external` (someone else's servers) and `compose` (Docker publishes the ports) leave them
to their owners."""

from __future__ import annotations

import pytest

from devmatrix.config import Settings

pytestmark = pytest.mark.unit

SECRETS = {"api_token": "a" * 40, "postgres_password": "b" * 40, "llm_local_api_key": "c" * 40,
           "redis_password": "d" * 40}
WIDE = {"postgres_host": "10.1.2.3", "redis_host": "10.1.2.4", "chromadb_host": "10.1.2.5", "llm_host": "10.1.2.6"}


@pytest.mark.parametrize("provider", ["auto", "native"])
def test_a_provider_that_may_start_servers_here_refuses_wide_binds(provider):
    with pytest.raises(ValueError) as caught:
        Settings(environment="production", devmatrix_provider=provider, **SECRETS, **WIDE)
    for name, host in WIDE.items():
        assert f"{name.upper()}={host} is not a loopback address" in str(caught.value)


def test_the_default_provider_is_auto_and_checked():
    with pytest.raises(ValueError, match=r"REDIS_HOST=10\.1\.2\.4 is not a loopback"):
        Settings(environment="production", **SECRETS, redis_host="10.1.2.4")


@pytest.mark.parametrize("provider", ["external", "compose"])
def test_servers_run_elsewhere_may_have_any_address(provider):
    settings = Settings(environment="production", devmatrix_provider=provider, **SECRETS, **WIDE)
    assert settings.redis_host == "10.1.2.4"


@pytest.mark.parametrize("provider", ["auto", "native", "external", "compose"])
def test_the_api_bind_is_checked_under_every_provider(provider):
    with pytest.raises(ValueError, match=r"API_HOST=0\.0\.0\.0 is not a loopback"):
        Settings(environment="production", devmatrix_provider=provider, api_host="0.0.0.0", **SECRETS)  # noqa: S104


def test_outside_production_nothing_is_refused():
    assert Settings(devmatrix_provider="auto", **WIDE).redis_host == "10.1.2.4"
