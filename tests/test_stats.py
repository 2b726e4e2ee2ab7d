"""Planner statistics refreshed after bulk writes: which share of changed rows makes a table stale."""

from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from db.models import Team
from db.stats import INGEST_STALE_SHARE, STALE_SHARE, refresh_statistics


def _add_teams(engine: Engine, first: int, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Team.__table__),
            [
                {"source": "bulk", "external_id": f"t{n}", "name": f"Team {n}"}
                for n in range(first, first + count)
            ],
        )
        if engine.dialect.name == "postgresql":
            # the counters this transaction leaves reach the statistics views at its end
            conn.execute(text("SELECT pg_stat_force_next_flush()"))


def test_a_table_is_analyzed_once_its_share_of_changed_rows_is_passed(engine: Engine) -> None:
    _add_teams(engine, 1, 3000)
    if engine.dialect.name == "sqlite":  # SQLite plans without statistics: nothing to refresh
        assert refresh_statistics(engine, ("team",)) == []
        return
    assert refresh_statistics(engine, ("team",), INGEST_STALE_SHARE) == ["team"]  # never analyzed
    assert refresh_statistics(engine, ("team",), INGEST_STALE_SHARE) == []  # just analyzed
    _add_teams(engine, 3001, 2000)  # 2000 changed > 1000 + 0.1 × 3000, but not > 1000 + 0.5 × 3000
    assert (STALE_SHARE, INGEST_STALE_SHARE) == (0.1, 0.5)
    assert refresh_statistics(engine, ("team",), INGEST_STALE_SHARE) == []
    assert refresh_statistics(engine, ("team",)) == ["team"]
