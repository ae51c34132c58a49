"""FastAPI CRUD endpoints for todos, over the in-memory repository."""

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel
from todo import Todo, TodoNotFound, TodoRepository

app = FastAPI(title="Todos")
repo = TodoRepository()


class TodoIn(BaseModel):
    title: str


class TodoPatch(BaseModel):
    title: str | None = None
    done: bool | None = None


def _call(action, *args, **kwargs):
    """Run a repository call; unknown id → 404, invalid title → 422."""
    try:
        return action(*args, **kwargs)
    except TodoNotFound:
        raise HTTPException(status_code=404, detail=f"no todo {args[0]}") from None
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error


@app.post("/todos", status_code=201)
def create_todo(body: TodoIn) -> Todo:
    return _call(repo.create, body.title)


@app.get("/todos")
def list_todos() -> list[Todo]:
    return repo.list()


@app.get("/todos/{todo_id}")
def get_todo(todo_id: int) -> Todo:
    return _call(repo.get, todo_id)


@app.patch("/todos/{todo_id}")
def update_todo(todo_id: int, body: TodoPatch) -> Todo:
    return _call(repo.update, todo_id, title=body.title, done=body.done)


@app.delete("/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: int) -> Response:
    _call(repo.delete, todo_id)
    return Response(status_code=204)
