# id: psycopg2_parameterized_queries
# title: Safe SQL with psycopg2 parameters and sql.Identifier
# topic: sql
# tags: psycopg2, postgresql, sql injection, parameters, sql.Identifier, repository
from psycopg2 import sql


def insert_user_query(table: str) -> sql.Composed:
    """Identifiers are quoted by sql.Identifier; values are passed separately as %s parameters."""
    return sql.SQL("INSERT INTO {} (name, email) VALUES (%s, %s) RETURNING id").format(sql.Identifier(table))


def find_user(cursor, email: str) -> tuple | None:
    # never build SQL with f-strings from user input: the driver escapes parameters
    cursor.execute("SELECT id, name, email FROM users WHERE email = %s", (email,))
    return cursor.fetchone()


if __name__ == "__main__":
    query = insert_user_query('users"; DROP TABLE users; --')
    parts = query.seq
    assert isinstance(parts[0], sql.SQL) and isinstance(parts[1], sql.Identifier)
    assert parts[1].strings == ('users"; DROP TABLE users; --',)  # one identifier, quoted on use

    class RecordingCursor:  # the DB-API contract find_user relies on
        def execute(self, statement, params):
            self.statement, self.params = statement, params

        def fetchone(self):
            return (1, "Ada", self.params[0])

    cursor = RecordingCursor()
    assert find_user(cursor, "ada@example.com") == (1, "Ada", "ada@example.com")
    assert "%s" in cursor.statement and cursor.params == ("ada@example.com",)
