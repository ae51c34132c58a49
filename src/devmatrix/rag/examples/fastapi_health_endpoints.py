# id: fastapi_health_endpoints
# title: FastAPI liveness and readiness health checks
# topic: fastapi
# tags: fastapi, health check, readiness, liveness, 503, monitoring
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse


def create_app(checks: dict[str, Callable[[], bool]]) -> FastAPI:
    app = FastAPI()

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "alive"}  # the process answers: nothing else is checked

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        failed = [name for name, check in checks.items() if not check()]
        status = 503 if failed else 200
        return JSONResponse({"ready": not failed, "failed": failed}, status_code=status)

    return app


if __name__ == "__main__":
    from fastapi.testclient import TestClient

    with TestClient(create_app({"db": lambda: True, "cache": lambda: False})) as client:
        assert client.get("/health/live").status_code == 200
        response = client.get("/health/ready")
        assert response.status_code == 503 and response.json()["failed"] == ["cache"]
