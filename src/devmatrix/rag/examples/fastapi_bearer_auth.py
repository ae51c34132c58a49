# id: fastapi_bearer_auth
# title: FastAPI endpoint protected by a bearer token dependency
# topic: fastapi
# tags: fastapi, authentication, bearer token, dependency, Depends, 401, secrets.compare_digest
import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

API_TOKEN = "change-me"
bearer = HTTPBearer(auto_error=False)
app = FastAPI()


def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    # constant-time comparison: the response time does not leak how much of the token matched
    if credentials is None or not secrets.compare_digest(credentials.credentials, API_TOKEN):
        raise HTTPException(status_code=401, detail="missing or wrong token",
                            headers={"WWW-Authenticate": "Bearer"})


@app.get("/secret", dependencies=[Depends(require_token)])
def secret() -> dict[str, str]:
    return {"message": "hello"}


if __name__ == "__main__":
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.get("/secret").status_code == 401
        assert client.get("/secret", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.get("/secret", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert ok.status_code == 200 and ok.json() == {"message": "hello"}
