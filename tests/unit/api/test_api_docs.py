"""/docs works offline: Swagger UI's script and styles come from this server, never a CDN."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.unit


def test_the_docs_page_loads_every_asset_from_this_server(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn" not in page.text.lower()
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 500, asset
    assert client.get("/openapi.json").status_code == 200
