"""Shared by the benchmarks: timings, engines and settling a loaded store, and PostgreSQL plumbing
(probe the server, throwaway databases)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import Engine, make_url

from db.engine import get_engine


@dataclass
class Timing:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    """The project's engine for ``url``, disposed afterwards (no connection left on a template)."""
    engine = get_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        get_engine.cache_clear()


def settle(engine: Engine, *, vacuum: bool = False) -> None:
    """After a bulk load, bring the store to where a live one soon is: planner statistics (with
    ``vacuum`` on PostgreSQL also the visibility map, which index-only scans rely on, as autovacuum
    sets it soon after a bulk load), and on SQLite the WAL folded into one self-contained file."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)" if vacuum else "ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def bench_pg_url() -> str:
    return os.environ.get("AX_BENCH_PG_URL", DEFAULT_PG_URL)


def postgres_answers(url: str) -> bool:
    """True when the server answers; otherwise print why PostgreSQL is skipped."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = make_url(url).render_as_string(hide_password=True)
        print(f"postgresql: skipped, server at {where} did not answer: {reason}")
        return False
    return True


@contextmanager
def throwaway_databases(
    url: str, prefix: str, kinds: tuple[str, ...]
) -> Iterator[dict[str, tuple[str, str]]]:
    """Fresh databases named ``<prefix>_<pid>_<kind>``: kind -> (SQLAlchemy URL, libpq conninfo)."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    names = {kind: f"{prefix}_{os.getpid()}_{kind}" for kind in kinds}
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            kind: (
                parsed.set(database=name).render_as_string(hide_password=False),
                parsed.set(drivername="postgresql", database=name).render_as_string(hide_password=False),
            )
            for kind, name in names.items()
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
