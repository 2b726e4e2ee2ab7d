"""SQL expressions that need different spellings on SQLite and PostgreSQL.

Compiled per dialect with SQLAlchemy's ``@compiles``, so the indicator queries are written once
and run natively (C functions on SQLite, no Python callbacks per row).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Date, Float, Integer
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import FrameClause
from sqlalchemy.sql.functions import FunctionElement

from db.types import UTCDateTime


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
    # UTCDateTime stores naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'. strftime rounds to the
    # millisecond before '%s' (…59.9996 would become the next second), so the fraction is cut off
    # first: whole seconds rounded down, as FLOOR on PostgreSQL and as ingest stamps work_start.
    return f"CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER)"


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


class shifted_date(FunctionElement):
    """The date of UTC timestamp column ``ts`` moved by ``seconds``: a local date, given the UTC
    offset in force (``shifted_date(ts, offset)``), computed in SQL on both back ends (no per-row
    Python call on SQLite). Sub-second parts are cut off first, as :class:`epoch_seconds` does."""

    type = Date()
    inherit_cache = True
    name = "ax_shifted_date"


@compiles(shifted_date, "sqlite")
def _shifted_date_sqlite(element: shifted_date, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"date(substr({ts}, 1, 19), ({seconds}) || ' seconds')"


@compiles(shifted_date, "postgresql")
def _shifted_date_pg(element: shifted_date, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(date_trunc('second', {ts} AT TIME ZONE 'UTC') + ({seconds}) * INTERVAL '1 second' AS DATE)"


class from_epoch(FunctionElement):
    """The UTC timestamp ``seconds`` after 1970-01-01, comparable with a timestamp column on both
    back ends (on SQLite 'YYYY-MM-DD HH:MM:SS', which sorts just before the same second stored
    with its microseconds), so a bound on epoch seconds can use an index on the column."""

    type = UTCDateTime()
    inherit_cache = True
    name = "ax_from_epoch"


@compiles(from_epoch, "sqlite")
def _from_epoch_sqlite(element: from_epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"datetime({compiler.process(element.clauses, **kw)}, 'unixepoch')"


@compiles(from_epoch, "postgresql")
def _from_epoch_pg(element: from_epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_timestamp({compiler.process(element.clauses, **kw)})"


class seconds_between(FunctionElement):
    """Seconds from timestamp column ``a`` to ``b`` (a float, to about a millisecond on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "ax_seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({b}) - julianday({a})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({b} - {a}))"


@compiles(FrameClause)
def _frame_inline(element: FrameClause, compiler: SQLCompiler, **kw: Any) -> str:
    """Window frames (``ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING``) with their offsets written out.

    SQLAlchemy sends the offsets as bound parameters, so to PostgreSQL two identical frames are
    different windows and each gets its own sort-and-scan step (the baselines had nine where one
    does). Rendered at execution as literals (``literal_execute``: still cached per statement
    shape, the values filled in per execution).
    """
    return compiler.visit_frame_clause(element, **{**kw, "literal_execute": True})


def _spelled(construct: type[FunctionElement], **templates: str) -> None:
    """Register a construct's SQL per dialect: a template whose ``{0}``, ``{1}``… are its arguments."""
    for dialect, template in templates.items():

        def render(
            element: FunctionElement, compiler: SQLCompiler, _template: str = template, **kw: Any
        ) -> str:
            return _template.format(*(compiler.process(arg, **kw) for arg in element.clauses))

        compiles(construct, dialect)(render)


class utc_hour_key(FunctionElement):
    """A key for the UTC hour of timestamp column ``ts``, cheap to work out per row: its text up to
    the hour on SQLite ('YYYY-MM-DD HH', no date parsing), whole hours since 1970 on PostgreSQL.
    :class:`hour_key_epoch` turns a key back into epoch seconds, once per group."""

    inherit_cache = True
    name = "ax_utc_hour_key"


_spelled(
    utc_hour_key,
    sqlite="substr({0}, 1, 13)",
    postgresql="CAST(FLOOR(EXTRACT(EPOCH FROM {0}) / 3600) AS BIGINT)",
)


class hour_key_epoch(FunctionElement):
    """Epoch seconds at the start of the hour a :class:`utc_hour_key` stands for."""

    type = BigInteger()
    inherit_cache = True
    name = "ax_hour_key_epoch"


_spelled(hour_key_epoch, sqlite="CAST(strftime('%s', {0} || ':00:00') AS INTEGER)", postgresql="({0} * 3600)")


class utc_minute(FunctionElement):
    """The minute of the hour (0-59) of UTC timestamp column ``ts``."""

    type = Integer()
    inherit_cache = True
    name = "ax_utc_minute"


_spelled(
    utc_minute,
    sqlite="CAST(substr({0}, 15, 2) AS INTEGER)",
    postgresql="CAST(EXTRACT(MINUTE FROM {0} AT TIME ZONE 'UTC') AS INTEGER)",
)


class epoch_date(FunctionElement):
    """The UTC date of ``seconds`` since 1970-01-01."""

    type = Date()
    inherit_cache = True
    name = "ax_epoch_date"


_spelled(
    epoch_date,
    sqlite="date({0}, 'unixepoch')",
    postgresql="CAST(to_timestamp({0}) AT TIME ZONE 'UTC' AS DATE)",
)
