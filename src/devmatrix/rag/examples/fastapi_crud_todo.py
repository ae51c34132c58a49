# id: fastapi_crud_todo
# title: FastAPI CRUD endpoints for a todo list
# topic: fastapi
# tags: fastapi, REST API, CRUD, pydantic, todo, endpoints, 404
from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, Field


class TodoIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    done: bool = False


class Todo(TodoIn):
    id: int


app = FastAPI(title="Todo API")
_todos: dict[int, Todo] = {}


@app.post("/todos", response_model=Todo, status_code=status.HTTP_201_CREATED)
def create_todo(body: TodoIn) -> Todo:
    todo = Todo(id=max(_todos, default=0) + 1, **body.model_dump())
    _todos[todo.id] = todo
    return todo


@app.get("/todos", response_model=list[Todo])
def list_todos() -> list[Todo]:
    return list(_todos.values())


@app.get("/todos/{todo_id}", response_model=Todo)
def get_todo(todo_id: int) -> Todo:
    if todo_id not in _todos:
        raise HTTPException(status_code=404, detail=f"todo {todo_id} not found")
    return _todos[todo_id]


@app.delete("/todos/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: int) -> None:
    if _todos.pop(todo_id, None) is None:
        raise HTTPException(status_code=404, detail=f"todo {todo_id} not found")


if __name__ == "__main__":
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        created = client.post("/todos", json={"title": "write tests"}).json()
        assert created == {"id": 1, "title": "write tests", "done": False}
        assert client.get("/todos/1").json()["title"] == "write tests"
        assert client.post("/todos", json={"title": ""}).status_code == 422
        assert client.delete("/todos/1").status_code == 204
        assert client.get("/todos/1").status_code == 404
