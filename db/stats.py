"""Planner statistics kept fresh after bulk writes (PostgreSQL; SQLite plans without them).

Right after a large sync autovacuum may not have analyzed yet. Estimates from when a table was
small then pick plans for a few rows: hash joins become nested loops, and a look-up by
``(source, external_id)`` probes the index on ``source`` alone and filters every row of the
source, so an initial sync slows down as it grows. Ingest (before each page) and the compute
(before its joins) call :func:`refresh_statistics`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Autovacuum's own rule of thumb: analyze once a tenth of a table changed since the last time.
STALE_SHARE = 0.1
# Ingest's look-ups by key need statistics that know the source's rows are there, not precise
# ones (the planner scales row counts by the table's current size itself). Analyzing at every
# tenth was a fifth of what an initial load spent beyond plain inserts (bench/ingest.py on
# PostgreSQL: 0.63 s); at a half it is 0.28 s and the look-ups keep their index plans (the same
# look-up times; with no statistics at all they take ten times as long).
INGEST_STALE_SHARE = 0.5
STALE_MIN_ROWS = 1000

_STALE = text(
    # The size from pg_class (kept with the table; the statistics counters start at zero in a
    # database created from a template or after a crash).
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.relname = ANY(:names) "
    "AND s.n_mod_since_analyze > :floor + :share * greatest(c.reltuples, s.n_live_tup) "
    "ORDER BY s.relname"
)


def refresh_statistics(engine: Engine, tables: tuple[str, ...], share: float = STALE_SHARE) -> list[str]:
    """ANALYZE those of ``tables`` with more than ``share`` of their rows (a tenth) changed since
    their last ANALYZE, in a short transaction of its own; returns their names.

    A day's sync on a large store changes far less than a tenth, so this costs one look at the
    statistics views; an initial load analyzes each table a few times as it doubles in size.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        found = conn.execute(_STALE, {"names": list(tables), "floor": STALE_MIN_ROWS, "share": share})
        stale = [name for name in found.scalars() if name in tables]
        if stale:
            conn.execute(text(f"ANALYZE {', '.join(stale)}"))
    return stale
