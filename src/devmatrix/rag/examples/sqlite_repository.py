# id: sqlite_repository
# title: A repository class over SQL (sqlite3), with CRUD and parameters
# topic: sql
# tags: sql, sqlite3, repository pattern, CRUD, parameters
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price_cents: int


class ProductRepository:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
        self.db.execute("CREATE TABLE IF NOT EXISTS products ("
                        " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, price_cents INTEGER NOT NULL)")

    def add(self, name: str, price_cents: int) -> Product:
        with self.db:  # commit on success, roll back on error
            cursor = self.db.execute("INSERT INTO products (name, price_cents) VALUES (?, ?)", (name, price_cents))
        return Product(cursor.lastrowid, name, price_cents)

    def get(self, product_id: int) -> Product | None:
        row = self.db.execute("SELECT id, name, price_cents FROM products WHERE id = ?", (product_id,)).fetchone()
        return Product(*row) if row else None

    def cheaper_than(self, cents: int) -> list[Product]:
        rows = self.db.execute("SELECT id, name, price_cents FROM products WHERE price_cents < ? ORDER BY price_cents",
                               (cents,))
        return [Product(*row) for row in rows]


if __name__ == "__main__":
    repo = ProductRepository(sqlite3.connect(":memory:"))
    pen = repo.add("pen", 150)
    repo.add("book", 1200)
    assert repo.get(pen.id) == pen and repo.get(99) is None
    assert [p.name for p in repo.cheaper_than(1000)] == ["pen"]
    try:
        repo.add("pen", 1)
    except sqlite3.IntegrityError:
        pass
    else:
        raise AssertionError("duplicate names must be rejected")
