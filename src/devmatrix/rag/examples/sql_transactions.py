# id: sql_transactions
# title: Database transactions: all or nothing with rollback
# topic: sql
# tags: sql, transaction, rollback, commit, atomic, bank transfer
import sqlite3


def transfer(db: sqlite3.Connection, source: str, target: str, amount: int) -> None:
    """Move ``amount`` between accounts atomically; an overdraft changes nothing."""
    with db:  # one transaction: both updates or neither
        db.execute("UPDATE accounts SET balance = balance - ? WHERE name = ?", (amount, source))
        (balance,) = db.execute("SELECT balance FROM accounts WHERE name = ?", (source,)).fetchone()
        if balance < 0:
            raise ValueError(f"insufficient funds in {source}")
        db.execute("UPDATE accounts SET balance = balance + ? WHERE name = ?", (amount, target))


if __name__ == "__main__":
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE accounts (name TEXT PRIMARY KEY, balance INTEGER)")
    db.executemany("INSERT INTO accounts VALUES (?, ?)", [("alice", 100), ("bob", 0)])
    db.commit()
    transfer(db, "alice", "bob", 30)
    try:
        transfer(db, "alice", "bob", 500)
    except ValueError:
        pass
    assert dict(db.execute("SELECT name, balance FROM accounts")) == {"alice": 70, "bob": 30}
