"""SQL expressions that need different spellings on SQLite and PostgreSQL.

Compiled per dialect with SQLAlchemy's ``@compiles``, so the indicator queries are written once
and run natively (C functions on SQLite, no Python callbacks per row).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Date, Float, Integer, String, bindparam
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, FrameClause
from sqlalchemy.sql.functions import FunctionElement

from db.types import UTCDateTime


def _spelled(construct: type[FunctionElement], **templates: str) -> None:
    """Register a construct's SQL per dialect: a template whose ``{0}``, ``{1}``… are its arguments."""
    for dialect, template in templates.items():

        def render(
            element: FunctionElement, compiler: SQLCompiler, _template: str = template, **kw: Any
        ) -> str:
            return _template.format(*(compiler.process(arg, **kw) for arg in element.clauses))

        compiles(construct, dialect)(render)


class epoch_seconds(FunctionElement):
    """Whole seconds since 1970-01-01 UTC of a UTC timestamp column, on SQLite and PostgreSQL."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_unsupported(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"epoch_seconds() has no rendering for {compiler.dialect.name}")


_spelled(
    epoch_seconds,
    # UTCDateTime stores naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'. strftime rounds to the
    # millisecond before '%s' (…59.9996 would become the next second), so the fraction is cut off
    # first: whole seconds rounded down, as FLOOR on PostgreSQL and as ingest stamps work_start.
    sqlite="CAST(strftime('%s', substr({0}, 1, 19)) AS INTEGER)",
    postgresql="CAST(FLOOR(EXTRACT(EPOCH FROM {0})) AS BIGINT)",
)


class day_number(FunctionElement):
    """Whole days since 1970-01-01 of a DATE column: consecutive dates differ by exactly 1."""

    type = Integer()
    inherit_cache = True
    name = "ax_day_number"


_spelled(
    day_number,
    sqlite="CAST(julianday({0}) - 2440587.5 AS INTEGER)",
    postgresql="({0} - DATE '1970-01-01')",
)


class shifted_date(FunctionElement):
    """The date of UTC timestamp column ``ts`` moved by ``seconds``: a local date, given the UTC
    offset in force (``shifted_date(ts, offset)``), computed in SQL on both back ends (no per-row
    Python call on SQLite). Sub-second parts are cut off first, as :class:`epoch_seconds` does."""

    type = Date()
    inherit_cache = True
    name = "ax_shifted_date"


_spelled(
    shifted_date,
    sqlite="date(substr({0}, 1, 19), ({1}) || ' seconds')",
    postgresql="CAST(date_trunc('second', {0} AT TIME ZONE 'UTC') + ({1}) * INTERVAL '1 second' AS DATE)",
)


class from_epoch(FunctionElement):
    """The UTC timestamp ``seconds`` after 1970-01-01, comparable with a timestamp column on both
    back ends (on SQLite 'YYYY-MM-DD HH:MM:SS', which sorts just before the same second stored
    with its microseconds), so a bound on epoch seconds can use an index on the column."""

    type = UTCDateTime()
    inherit_cache = True
    name = "ax_from_epoch"


_spelled(from_epoch, sqlite="datetime({0}, 'unixepoch')", postgresql="to_timestamp({0})")


class seconds_between(FunctionElement):
    """Seconds from timestamp column ``a`` to ``b`` (a float, to about a millisecond on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "ax_seconds_between"


_spelled(
    seconds_between,
    sqlite="((julianday({1}) - julianday({0})) * 86400.0)",
    postgresql="EXTRACT(EPOCH FROM ({1} - {0}))",
)


class _in_json_array(FunctionElement):
    """Whether text column ``{0}`` is one of the strings in the JSON array text ``{1}``.

    Untyped, not Boolean: SQLAlchemy writes a Boolean expression standing alone in a WHERE clause
    as ``(…) = 1`` on SQLite, which hides the IN from the planner (no index look-ups)."""

    inherit_cache = True
    name = "ax_in_json_array"


_spelled(
    _in_json_array,
    sqlite="{0} IN (SELECT value FROM json_each({1}))",
    postgresql="{0} = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST({1} AS jsonb))))",
)


def one_of(column: ColumnElement[str], values: Iterable[str]) -> ColumnElement[Any]:
    """``column IN values``, the values sent as one parameter however many there are.

    Ingest looks up a page's thousands of ids at once: an IN list was cut into chunks under the
    drivers' parameter limits and had its placeholders expanded on every call, a round trip and
    a re-render per chunk. Both back ends still find each value through the column's index.
    """
    return _in_json_array(column, bindparam(None, json.dumps(list(values)), type_=String()))


@compiles(FrameClause)
def _frame_inline(element: FrameClause, compiler: SQLCompiler, **kw: Any) -> str:
    """Window frames (``ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING``) with their offsets written out.

    SQLAlchemy sends the offsets as bound parameters, so to PostgreSQL two identical frames are
    different windows and each gets its own sort-and-scan step (the baselines had nine where one
    does). Rendered at execution as literals (``literal_execute``: still cached per statement
    shape, the values filled in per execution).
    """
    return compiler.visit_frame_clause(element, **{**kw, "literal_execute": True})


class utc_hour_key(FunctionElement):
    """A key for the UTC hour of timestamp column ``ts``, cheap to work out per row: its text up to
    the hour on SQLite ('YYYY-MM-DD HH', no date parsing), the UTC hour as a timestamp on
    PostgreSQL (``date_trunc``: a third cheaper than hours since 1970, whose EXTRACT is numeric
    arithmetic). :class:`hour_key_epoch` turns a key back into epoch seconds, once per group."""

    inherit_cache = True
    name = "ax_utc_hour_key"


_spelled(
    utc_hour_key,
    sqlite="substr({0}, 1, 13)",
    postgresql="date_trunc('hour', {0} AT TIME ZONE 'UTC')",
)


class hour_key_epoch(FunctionElement):
    """Epoch seconds at the start of the hour a :class:`utc_hour_key` stands for."""

    type = BigInteger()
    inherit_cache = True
    name = "ax_hour_key_epoch"


_spelled(
    hour_key_epoch,
    sqlite="CAST(strftime('%s', {0} || ':00:00') AS INTEGER)",
    postgresql="CAST(EXTRACT(EPOCH FROM {0}) AS BIGINT)",  # a UTC timestamp without zone
)


class utc_minute(FunctionElement):
    """The minute of the hour (0-59) of UTC timestamp column ``ts``."""

    type = Integer()
    inherit_cache = True
    name = "ax_utc_minute"


_spelled(
    utc_minute,
    sqlite="CAST(substr({0}, 15, 2) AS INTEGER)",
    postgresql="CAST(date_part('minute', {0} AT TIME ZONE 'UTC') AS INTEGER)",  # double, not numeric
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
