"""GET /docs: Swagger UI from the packaged copy (PyPI swagger-ui-bundle), never a CDN.

FastAPI's own /docs page loads its script and styles from jsDelivr, so on a machine
without internet it is blank. Here the same page gets them from /docs/static/.
(ReDoc has no packaged copy, so /redoc is off.)
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
STATIC_PATH = "/docs/static"


def install(app: FastAPI) -> None:
    """Call with an app built with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_PATH, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json",
                                   title=f"{app.title} — docs",
                                   swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png")
