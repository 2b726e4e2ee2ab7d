"""Engine and session: one engine per database URL, SQLite tuned for a shared dashboard + worker."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine


class DatabaseError(RuntimeError):
    """The store cannot be reached or the URL is unusable; the message says what to fix."""


def _local_date(ts: str | None, tz: str | None) -> str | None:
    """SQLite twin of PostgreSQL's ``(ts AT TIME ZONE tz)::date`` for UTC text timestamps.

    Called once per row by the indicator queries, so it is memoised per minute: every UTC offset
    is a whole number of minutes, so the minute decides the local date.
    """
    if ts is None:
        return None
    return _local_date_of_minute(ts[:16], tz)


@lru_cache(maxsize=1 << 18)
def _local_date_of_minute(minute: str, tz: str | None) -> str:
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    moment = datetime.fromisoformat(minute).replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone).date().isoformat()


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    try:
        cursor.execute("SELECT sqrt(4)")  # math functions are a compile-time option of SQLite
    except sqlite3.OperationalError:
        dbapi_connection.create_function("sqrt", 1, _sqrt, deterministic=True)
    cursor.close()
    dbapi_connection.create_function("ax_local_date", 2, _local_date, deterministic=True)


def _sqrt(value: float | None) -> float | None:
    return None if value is None or value < 0 else math.sqrt(value)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """Build (once per URL) an engine; raise :class:`DatabaseError` for a URL that cannot work."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            "AX_DATABASE_URL is not a database URL; expected sqlite:///path/to/ax.db "
            "or postgresql+psycopg://user@host:5432/dbname"
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _tune_sqlite)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                connect_args={"connect_timeout": 5},
            )
        else:
            raise DatabaseError(
                f"AX_DATABASE_URL uses '{parsed.get_backend_name()}'; AX supports sqlite and postgresql"
            )
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"AX_DATABASE_URL names a driver that is not installed: {exc}") from None
    return engine


def check_connection(engine: Engine) -> None:
    """Open one connection now, so a bad URL fails with one clear message at start-up."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"Cannot reach the database at {where}: {reason}") from None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
