"""``python -m devmatrix.api``: serve the API with uvicorn on API_HOST:API_PORT (the native service `api`)."""

from __future__ import annotations

import sys

import uvicorn

from devmatrix.api.app import create_app
from devmatrix.boundary import run_main
from devmatrix.config import load_settings
from devmatrix.errors import PortInUse
from devmatrix.monitoring.logging import configure_logging
from devmatrix.stack import system


def serve() -> int:
    settings = load_settings()
    holder = system.port_holder(settings.api_port, settings.api_host)
    if holder is not None:
        raise PortInUse("api", settings.api_port, holder[1], setting="API_PORT")
    configure_logging(settings)
    # access_log off: the app logs one structured line per request itself
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_level=settings.log_level.lower(), access_log=False, server_header=False)
    return 0


def main() -> int:
    return run_main(serve)


if __name__ == "__main__":
    sys.exit(main())
