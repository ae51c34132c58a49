# id: fastapi_pydantic_validation
# title: FastAPI request validation with pydantic models and query parameters
# topic: fastapi
# tags: fastapi, pydantic, validation, query parameters, 422, field_validator
from typing import Annotated

from fastapi import FastAPI, Query
from pydantic import BaseModel, field_validator

app = FastAPI()


class SignUp(BaseModel):
    username: str
    age: int

    @field_validator("username")
    @classmethod
    def no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError("username must not contain spaces")
        return value.lower()


@app.post("/signup")
def signup(body: SignUp) -> dict[str, object]:
    return {"username": body.username, "adult": body.age >= 18}


@app.get("/search")
def search(q: Annotated[str, Query(min_length=2)], limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
    return {"q": q, "limit": limit}


if __name__ == "__main__":
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.post("/signup", json={"username": "Ada", "age": 36}).json() == {"username": "ada", "adult": True}
        bad = client.post("/signup", json={"username": "a b", "age": "x"})
        assert bad.status_code == 422 and len(bad.json()["detail"]) == 2
        assert client.get("/search", params={"q": "py", "limit": 5}).json() == {"q": "py", "limit": 5}
        assert client.get("/search", params={"q": "p"}).status_code == 422
