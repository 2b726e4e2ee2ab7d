"""Store normalized records: resolve references, upsert in batches, move the cursor atomically.

One :meth:`Ingestor.write_page` call is one transaction holding a page of records *and* the
stream's new cursor, so a crash between pages resumes from the last committed page with nothing
lost and nothing doubled (upserts make a replayed page harmless).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection, Engine

from db import models as m
from db import records as r
from db.types import utcnow
from db.upsert import bulk_upsert

_IN_CHUNK = 500
log = logging.getLogger("ax.ingest")


@dataclass
class PageResult:
    """Rows written per table by one page, and references that had to be created as placeholders."""

    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    placeholders: int = 0

    def add(self, other: PageResult) -> None:
        for name, count in other.rows.items():
            self.rows[name] += count
        self.placeholders += other.placeholders

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@lru_cache(maxsize=1024)
def known_timezone(name: str | None) -> str:
    """The IANA zone, or UTC for a name the zone database does not know.

    An agent's local day is computed in SQL (``AT TIME ZONE`` on PostgreSQL), where one unknown
    zone name would fail the whole computation, so it is caught here, once, at ingest.
    """
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown timezone %r; using UTC", name)
        return "UTC"
    return name


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined]


class _RefResolver:
    """Maps a source's external ids to row ids, creating placeholder rows for unknown ones.

    A contact that names an agent the sync has not seen yet is kept (linked to a placeholder that
    the agent stream fills in later) instead of dropped.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._known: dict[str, dict[str, int]] = {"agent": {}, "team": {}, "survey": {}}

    def forget(self) -> None:
        for cache in self._known.values():
            cache.clear()

    def _select(self, conn: Connection, table: Table, wanted: list[str], cache: dict[str, int]) -> None:
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows = conn.execute(
                select(table.c.external_id, table.c.id).where(
                    table.c.source == self.source, table.c.external_id.in_(chunk)
                )
            )
            cache.update({ext: row_id for ext, row_id in rows})

    def ids(
        self,
        conn: Connection,
        kind: str,
        external_ids: Iterable[str | None],
        result: PageResult,
    ) -> dict[str, int]:
        cache = self._known[kind]
        wanted = sorted({e for e in external_ids if e is not None and e not in cache})
        if wanted:
            table = _table(m.Agent if kind == "agent" else m.Team)
            self._select(conn, table, wanted, cache)
            missing = [e for e in wanted if e not in cache]
            if missing:
                label = "Unknown agent" if kind == "agent" else "Unknown team"
                placeholders = [
                    {
                        "source": self.source,
                        "external_id": e,
                        "name": f"{label} {e}",
                        "deleted": False,
                    }
                    for e in missing
                ]
                bulk_upsert(conn, table, placeholders, update=False)
                result.placeholders += len(missing)
                self._select(conn, table, missing, cache)
        return cache

    def surveys(self, conn: Connection, keys: Iterable[str]) -> dict[str, int]:
        cache = self._known["survey"]
        wanted = sorted({k for k in keys if k not in cache})
        if wanted:
            table = _table(m.PulseSurvey)
            rows = conn.execute(select(table.c.key, table.c.id).where(table.c.key.in_(wanted)))
            cache.update({k: i for k, i in rows})
            unknown = [k for k in wanted if k not in cache]
            if unknown:
                raise ValueError(f"pulse answers refer to unknown surveys: {', '.join(unknown[:5])}")
        return cache


class Ingestor:
    """Writes pages of normalized records from one source into the store."""

    def __init__(self, engine: Engine, source: str, *, batch_size: int = 5000) -> None:
        self.engine = engine
        self.source = source
        self.batch_size = batch_size
        self._refs = _RefResolver(source)
        self._synced_at = utcnow()

    def write_page(self, stream: str, records: Sequence[r.Record], cursor: str | None = None) -> PageResult:
        """Upsert ``records`` and store ``cursor`` for ``stream`` in one transaction."""
        by_type: dict[type, list[Any]] = defaultdict(list)
        for record in records:
            by_type[type(record)].append(record)
        result = PageResult()
        # Stamped on activity rows so the incremental compute finds the agent-days this page touched.
        self._synced_at = utcnow()
        try:
            with self.engine.begin() as conn:
                for record_type, writer in self._writers():
                    if by_type.get(record_type):
                        writer(conn, by_type[record_type], result)
                self._save_cursor(conn, stream, cursor, result.total)
        except BaseException:
            self._refs.forget()  # ids seen inside the rolled-back transaction are gone
            raise
        return result

    def write_pages(self, stream: str, pages: Iterable[tuple[Sequence[r.Record], str | None]]) -> PageResult:
        total = PageResult()
        for records, cursor in pages:
            total.add(self.write_page(stream, records, cursor))
        return total

    # --- one writer per record type, in dependency order -------------------------------------

    def _writers(self):
        return (
            (r.TeamRecord, self._teams),
            (r.AgentRecord, self._agents),
            (r.MembershipRecord, self._memberships),
            (r.SurveyRecord, self._surveys),
            (r.ContactRecord, self._contacts),
            (r.WorkSegmentRecord, self._segments),
            (r.StatusIntervalRecord, self._statuses),
            (r.QueueSnapshotRecord, self._queues),
            (r.CsatRecord, self._csat),
            (r.PulseAnswerRecord, self._answers),
            (r.DeletionRecord, self._deletions),
        )

    def _put(
        self,
        conn: Connection,
        model: type,
        rows: list[dict[str, Any]],
        result: PageResult,
        **kw: Any,
    ) -> None:
        table = _table(model)
        result.rows[table.name] += bulk_upsert(conn, table, rows, batch_size=self.batch_size, **kw)

    def _teams(self, conn: Connection, recs: list[r.TeamRecord], result: PageResult) -> None:
        rows = [
            {
                "source": self.source,
                "external_id": t.external_id,
                "name": t.name,
                "site": t.site,
                "deleted": t.deleted,
            }
            for t in recs
        ]
        self._put(conn, m.Team, rows, result)
        with_parent = [t for t in recs if t.parent_external_id]
        if with_parent:
            ids = self._refs.ids(
                conn,
                "team",
                [t.parent_external_id for t in with_parent] + [t.external_id for t in with_parent],
                result,
            )
            team = _table(m.Team)
            conn.execute(
                update(team).where(team.c.id == bindparam("tid")).values(parent_id=bindparam("pid")),
                [{"tid": ids[t.external_id], "pid": ids[t.parent_external_id]} for t in with_parent],
            )

    def _agents(self, conn: Connection, recs: list[r.AgentRecord], result: PageResult) -> None:
        rows = [
            {
                "source": self.source,
                "external_id": a.external_id,
                "name": a.name,
                "email": a.email,
                "timezone": known_timezone(a.timezone),
                "scheduled_hours_per_day": a.scheduled_hours_per_day,
                "active": a.active,
                "deleted": a.deleted,
            }
            for a in recs
        ]
        self._put(conn, m.Agent, rows, result)

    def _memberships(self, conn: Connection, recs: list[r.MembershipRecord], result: PageResult) -> None:
        teams = self._refs.ids(conn, "team", (x.team_external_id for x in recs), result)
        agents = self._refs.ids(conn, "agent", (x.agent_external_id for x in recs), result)
        rows = [
            {
                "source": self.source,
                "external_id": x.external_id,
                "team_id": teams[x.team_external_id],
                "agent_id": agents[x.agent_external_id],
                "deleted": x.deleted,
            }
            for x in recs
        ]
        self._put(conn, m.TeamMembership, rows, result)

    def _surveys(self, conn: Connection, recs: list[r.SurveyRecord], result: PageResult) -> None:
        rows = [
            {
                "key": s.key,
                "title": s.title,
                "instrument": s.instrument,
                "opens_at": s.opens_at,
                "closes_at": s.closes_at,
            }
            for s in recs
        ]
        self._put(conn, m.PulseSurvey, rows, result, key=("key",))

    def _contacts(self, conn: Connection, recs: list[r.ContactRecord], result: PageResult) -> None:
        agents = self._refs.ids(conn, "agent", (c.agent_external_id for c in recs), result)
        teams = self._refs.ids(conn, "team", (c.team_external_id for c in recs), result)
        src = self.source
        rows = [
            {
                "source": src,
                "external_id": c.external_id,
                "channel": c.channel,
                "queue": c.queue,
                "team_id": teams.get(c.team_external_id) if c.team_external_id else None,
                "agent_id": agents.get(c.agent_external_id) if c.agent_external_id else None,
                "created_at": c.created_at,
                "first_response_at": c.first_response_at,
                "solved_at": c.solved_at,
                "updated_at": c.updated_at,
                "handle_seconds": c.handle_seconds,
                "talk_seconds": c.talk_seconds,
                "hold_seconds": c.hold_seconds,
                "wrap_seconds": c.wrap_seconds,
                "wait_seconds": c.wait_seconds,
                "csat": c.csat,
                "sentiment": c.sentiment,
                "escalated": c.escalated,
                "reopened": c.reopened,
                "deleted": c.deleted,
                "synced_at": self._synced_at,
            }
            for c in recs
        ]
        self._put(conn, m.Contact, rows, result)

    def _segments(self, conn: Connection, recs: list[r.WorkSegmentRecord], result: PageResult) -> None:
        agents = self._refs.ids(conn, "agent", (s.agent_external_id for s in recs), result)
        rows = [
            {
                "source": self.source,
                "external_id": s.external_id,
                "agent_id": agents[s.agent_external_id],
                "contact_external_id": s.contact_external_id,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "kind": s.kind,
                "deleted": s.deleted,
            }
            for s in recs
        ]
        self._put(conn, m.WorkSegment, rows, result)

    def _statuses(self, conn: Connection, recs: list[r.StatusIntervalRecord], result: PageResult) -> None:
        agents = self._refs.ids(conn, "agent", (s.agent_external_id for s in recs), result)
        rows = [
            {
                "source": self.source,
                "external_id": s.external_id,
                "agent_id": agents[s.agent_external_id],
                "status": s.status,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "deleted": s.deleted,
                "synced_at": self._synced_at,
            }
            for s in recs
        ]
        self._put(conn, m.AgentStatusInterval, rows, result)

    def _queues(self, conn: Connection, recs: list[r.QueueSnapshotRecord], result: PageResult) -> None:
        teams = self._refs.ids(conn, "team", (q.team_external_id for q in recs), result)
        rows = [
            {
                "source": self.source,
                "external_id": q.external_id,
                "queue": q.queue,
                "team_id": teams.get(q.team_external_id) if q.team_external_id else None,
                "at": q.at,
                "waiting": q.waiting,
                "longest_wait_seconds": q.longest_wait_seconds,
                "agents_online": q.agents_online,
                "agents_available": q.agents_available,
                "deleted": q.deleted,
            }
            for q in recs
        ]
        self._put(conn, m.QueueSnapshot, rows, result)

    def _csat(self, conn: Connection, recs: list[r.CsatRecord], result: PageResult) -> None:
        agents = self._refs.ids(conn, "agent", (c.agent_external_id for c in recs), result)
        rows = [
            {
                "source": self.source,
                "external_id": c.external_id,
                "contact_external_id": c.contact_external_id,
                "agent_id": agents.get(c.agent_external_id) if c.agent_external_id else None,
                "score": c.score,
                "rated_at": c.rated_at,
                "deleted": c.deleted,
                "synced_at": self._synced_at,
            }
            for c in recs
        ]
        self._put(conn, m.CsatRating, rows, result)

    def _answers(self, conn: Connection, recs: list[r.PulseAnswerRecord], result: PageResult) -> None:
        agents = self._refs.ids(conn, "agent", (a.agent_external_id for a in recs), result)
        surveys = self._refs.surveys(conn, (a.survey_key for a in recs))
        rows = [
            {
                "source": self.source,
                "external_id": a.external_id,
                "survey_id": surveys[a.survey_key],
                "agent_id": agents[a.agent_external_id],
                "item_key": a.item_key,
                "value": a.value,
                "text": a.text,
                "answered_at": a.answered_at,
                "deleted": a.deleted,
            }
            for a in recs
        ]
        self._put(conn, m.PulseAnswer, rows, result)

    def _deletions(self, conn: Connection, recs: list[r.DeletionRecord], result: PageResult) -> None:
        tables = {_table(model).name: _table(model) for model in m.SOURCE_TABLES}
        by_kind: dict[str, list[str]] = defaultdict(list)
        for rec in recs:
            if rec.kind not in tables:
                raise ValueError(f"deletion of unknown kind {rec.kind!r}; expected one of {sorted(tables)}")
            by_kind[rec.kind].append(rec.external_id)
        for kind, ids in by_kind.items():
            table = tables[kind]
            values: dict[str, Any] = {"deleted": True}
            if "synced_at" in table.c:
                values["synced_at"] = self._synced_at
            for start in range(0, len(ids), _IN_CHUNK):
                conn.execute(
                    update(table)
                    .where(
                        table.c.source == self.source, table.c.external_id.in_(ids[start : start + _IN_CHUNK])
                    )
                    .values(**values)
                )
            result.rows[f"{kind} deleted"] += len(ids)

    def _save_cursor(self, conn: Connection, stream: str, cursor: str | None, rows: int) -> None:
        state = _table(m.SyncState)
        now = utcnow()
        existing = conn.execute(
            select(state.c.rows_total).where(state.c.source == self.source, state.c.stream == stream)
        ).scalar_one_or_none()
        values = {
            "cursor": cursor,
            "last_attempt_at": now,
            "last_success_at": now,
            "last_error": None,
        }
        if existing is None:
            conn.execute(state.insert().values(source=self.source, stream=stream, rows_total=rows, **values))
        else:
            conn.execute(
                update(state)
                .where(state.c.source == self.source, state.c.stream == stream)
                .values(rows_total=existing + rows, **values)
            )


def record_sync_error(engine: Engine, source: str, stream: str, error: str) -> None:
    """Note a failed sync attempt without touching the cursor (kept for the admin page)."""
    state = _table(m.SyncState)
    now = utcnow()
    with engine.begin() as conn:
        found = conn.execute(
            update(state)
            .where(state.c.source == source, state.c.stream == stream)
            .values(last_attempt_at=now, last_error=error[:2000])
        ).rowcount
        if not found:
            conn.execute(
                state.insert().values(
                    source=source,
                    stream=stream,
                    last_attempt_at=now,
                    last_error=error[:2000],
                )
            )
