"""Sync health per source: rows by record type, cursors, last success and last error.

Shared by ``ax status`` and the admin page, so both always say the same thing. Counting rows
by record type reads every row of the big tables (seconds at millions of contacts), so the page
asks for it only on request; the streams' "rows synced" come from ``sync_state`` and cost nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import select as select_model

from ax.access import Viewer, require_role
from db.models import SOURCE_TABLES, JobRun, Role, SyncState


@dataclass
class StreamStatus:
    stream: str
    cursor: str | None
    rows_total: int
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None


@dataclass
class SourceStatus:
    source: str
    rows: dict[str, int] = field(default_factory=dict)
    streams: list[StreamStatus] = field(default_factory=list)

    @property
    def last_success_at(self) -> datetime | None:
        times = [s.last_success_at for s in self.streams if s.last_success_at]
        return max(times) if times else None

    @property
    def rows_synced(self) -> int:
        """Records written by this source's syncs, from the streams' running totals (updates count again)."""
        return sum(s.rows_total for s in self.streams)

    @property
    def last_error(self) -> str | None:
        errors = [s for s in self.streams if s.last_error]
        return errors[0].last_error if errors else None

    def as_json(self) -> dict:
        data = asdict(self)
        data["last_success_at"] = self.last_success_at
        data["last_error"] = self.last_error
        data["rows_synced"] = self.rows_synced
        return data


def source_status(engine: Engine, *, count_rows: bool = True) -> list[SourceStatus]:
    """One entry per source that has rows or sync state; row counts are one GROUP BY per table.

    ``count_rows=False`` leaves ``rows`` empty and reads only ``sync_state``: the cheap part.
    """
    sources: dict[str, SourceStatus] = {}
    with engine.connect() as conn:
        for model in SOURCE_TABLES if count_rows else ():
            table = model.__table__
            for source, count in conn.execute(
                select(table.c.source, func.count())
                .where(table.c.deleted.is_(False))
                .group_by(table.c.source)
            ):
                sources.setdefault(source, SourceStatus(source)).rows[table.name] = count
        state = SyncState.__table__
        for row in conn.execute(select(state).order_by(state.c.source, state.c.stream)).mappings():
            sources.setdefault(row["source"], SourceStatus(row["source"])).streams.append(
                StreamStatus(
                    stream=row["stream"],
                    cursor=row["cursor"],
                    rows_total=row["rows_total"],
                    last_success_at=row["last_success_at"],
                    last_attempt_at=row["last_attempt_at"],
                    last_error=row["last_error"],
                )
            )
    return [sources[name] for name in sorted(sources)]


def sync_health(session: Session, viewer: Viewer, *, count_rows: bool = True) -> list[SourceStatus]:
    """Admin view of :func:`source_status`."""
    require_role(session, viewer, Role.admin, action="view sync health as")
    return source_status(session.get_bind(), count_rows=count_rows)


def job_history(session: Session, viewer: Viewer, *, limit: int = 20) -> list[JobRun]:
    require_role(session, viewer, Role.admin, action="view job runs as")
    return list(session.exec(select_model(JobRun).order_by(JobRun.id.desc()).limit(limit)).all())
