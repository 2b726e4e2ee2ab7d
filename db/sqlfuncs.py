"""SQL expressions that need different spellings on SQLite and PostgreSQL.

Compiled per dialect with SQLAlchemy's ``@compiles``, so the indicator queries are written once
and run natively (C functions on SQLite, no Python callbacks per row).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch_seconds(FunctionElement):
    """Whole seconds since 1970-01-01 UTC of a UTC timestamp column, on SQLite and PostgreSQL."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_unsupported(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"epoch_seconds() has no rendering for {compiler.dialect.name}")


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime stores naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; %s truncates to whole seconds.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class day_number(FunctionElement):
    """Whole days since 1970-01-01 of a DATE column: consecutive dates differ by exactly 1."""

    type = Integer()
    inherit_cache = True
    name = "ax_day_number"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw) -> str:
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(day_number, "postgresql")
def _day_number_pg(element, compiler, **kw) -> str:
    return f"({compiler.process(element.clauses, **kw)} - DATE '1970-01-01')"
