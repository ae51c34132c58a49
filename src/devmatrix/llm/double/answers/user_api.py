"""FastAPI endpoints for users."""

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from user import User

app = FastAPI(title="Users")
_users: dict[int, User] = {}


class UserIn(BaseModel):
    """What a client sends to create a user."""

    id: int
    username: str
    email: str


@app.post("/users", status_code=201)
def create_user(body: UserIn) -> dict[str, object]:
    """Create a user; 409 if the id exists, 422 if a field is invalid."""
    if body.id in _users:
        raise HTTPException(status_code=409, detail=f"user {body.id} exists")
    try:
        user = User(id=body.id, username=body.username, email=body.email)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    _users[user.id] = user
    return user.to_dict()


@app.get("/users/{user_id}")
def get_user(user_id: int) -> dict[str, object]:
    """One user, or 404."""
    if user_id not in _users:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    return _users[user_id].to_dict()
