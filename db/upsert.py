"""Batched, idempotent ``INSERT … ON CONFLICT DO UPDATE`` that works on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Table, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

DEFAULT_KEY = ("source", "external_id")


# Columns that record when a row was written, not what it says: a row sent again with nothing
# else different is left alone, so its stamp keeps saying when it last *changed* (the compute
# rebuilds only agent-days with changed rows; connectors send their last page again by design).
WRITE_STAMPS = ("synced_at",)


def upsert_statement(table: Table, dialect_name: str, *, key: Sequence[str], columns: Sequence[str]):
    """The dialect's upsert for ``table``: insert, or on a key clash overwrite ``columns`` but the
    key, when any of them but the :data:`WRITE_STAMPS` differs from the stored row."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in key}
    if not updates:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    changed = [table.c[c].is_distinct_from(stmt.excluded[c]) for c in updates if c not in WRITE_STAMPS]
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_=updates, where=or_(*changed) if changed else None
    )


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
    names = tuple(rows[0].keys())
    columns = names if update else tuple(key)
    compiled = _compiled(table, conn.dialect, tuple(key), names, columns)
    if compiled is None:  # SQLAlchemy fills some columns itself (Python-side defaults): let it
        stmt = upsert_statement(table, conn.dialect.name, key=key, columns=columns)
        for start in range(0, len(rows), batch_size):
            conn.execute(stmt, list(rows[start : start + batch_size]))
        return len(rows)
    sql, order, processors = compiled
    get = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        try:
            # column-wise: transpose, run each column's bind processor over it, transpose back
            cols: list[Any] = list(zip(*map(get, batch), strict=True))
            for i, process in processors:
                cols[i] = map(process, cols[i])
            params: list[Any] = list(zip(*cols, strict=True))
        except Exception as exc:  # wrapped as SQLAlchemy wraps a failing bind processor
            raise DBAPIError.instance(
                sql, list(batch), exc, conn.dialect.loaded_dbapi.Error, conn.engine.hide_parameters
            ) from exc
        conn.exec_driver_sql(sql, params)
    return len(rows)


@lru_cache(maxsize=256)
def _compiled(
    table: Table, dialect: Dialect, key: tuple[str, ...], names: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...], list[tuple[int, Callable[[Any], Any]]]] | None:
    """The upsert compiled once: SQL text, parameter order, and each column type's bind processor.

    Sending rows through ``exec_driver_sql`` with the same bind processors SQLAlchemy would apply
    skips its per-row parameter bookkeeping, which dominated large ingests. None (run it the usual
    way) for other drivers, or when the statement has parameters beyond the given columns
    (defaults SQLAlchemy computes) or renamed ones.
    """
    if dialect.driver not in ("pysqlite", "psycopg"):
        return None
    compiled = upsert_statement(table, dialect.name, key=key, columns=columns).compile(
        dialect=_positional(dialect), column_keys=list(names)
    )
    if set(compiled.params) != set(names) or compiled.escaped_bind_names:
        return None
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(names):
        return None
    processors = []
    for i, name in enumerate(order):
        process = _bind_processor(table.c[name].type, dialect)
        if process is not None:
            processors.append((i, process))
    return compiled.string, order, processors


@lru_cache(maxsize=8)
def _positional(dialect: Dialect) -> Dialect:
    """The dialect, with positional parameters (``?`` on SQLite, ``%s`` on psycopg, which also
    takes them): each row goes to the driver as a tuple, with no name to look up per value."""
    if dialect.positional:
        return dialect
    positional = copy.copy(dialect)  # keeps what the connection told it (server version, …)
    positional.paramstyle, positional.positional = "format", True
    return positional


def _bind_processor(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The type's bind processor; on SQLite, for booleans and dates (which ingest binds by the
    hundred thousand), one that gives the same values with less work per value."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name != "sqlite" or process is None:
        return process
    if isinstance(column_type, Boolean):
        return _sqlite_bool(process)
    if isinstance(column_type, Date) and not isinstance(column_type, DateTime):
        return _sqlite_date(process)
    return process


def _sqlite_bool(strict: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        if value is True or value is False or value is None:  # sqlite3 binds True, False as 1, 0
            return value
        return strict(value)  # SQLAlchemy's: 0 and 1 pass, anything else is refused

    return process


def _sqlite_date(general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        # 'YYYY-MM-DD', SQLite's DATE text; anything but a plain date goes the general way
        return value.isoformat() if type(value) is date else general(value)

    return process
