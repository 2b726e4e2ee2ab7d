"""Batched, idempotent ``INSERT … ON CONFLICT DO UPDATE`` that works on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

DEFAULT_KEY = ("source", "external_id")


def upsert_statement(table: Table, dialect_name: str, *, key: Sequence[str], columns: Sequence[str]):
    """The dialect's upsert for ``table``: insert, or on a key clash overwrite ``columns`` but the key."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in key}
    if not updates:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updates)


def bulk_upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str] = DEFAULT_KEY,
    batch_size: int = 5000,
    update: bool = True,
) -> int:
    """Upsert ``rows`` (dicts with the same keys) in batches; returns the number of rows sent.

    ``update=False`` keeps existing rows as they are (used for placeholders that a later sync fills).
    """
    if not rows:
        return 0
    columns = list(rows[0].keys()) if update else list(key)
    stmt = upsert_statement(table, conn.dialect.name, key=key, columns=columns)
    for start in range(0, len(rows), batch_size):
        conn.execute(stmt, list(rows[start : start + batch_size]))
    return len(rows)
