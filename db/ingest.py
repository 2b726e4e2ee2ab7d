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
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from db import models as m
from db import records as r
from db.sqlfuncs import one_of
from db.stats import INGEST_STALE_SHARE, refresh_statistics
from db.types import utcnow
from db.upsert import bulk_upsert

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


# --- stamps for the indicator compute -----------------------------------------------------------
#
# The compute groups an agent's contacts and status intervals by the agent's *local* day and
# orders them by work span. Working that out per row on every run (a timezone conversion per row,
# a Python call on SQLite) cost more than the rest of the compute, so it is stamped here, once:
# ``work_day`` (local day the work started), ``work_start``/``work_end`` (epoch seconds, whole
# seconds rounded down as SQL's epoch_seconds) and the contact's lowest CSAT ``rating_score``.
# An agent whose timezone changes has their rows stamped again (see Ingestor._agents).

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def local_day(moment: datetime | None, timezone: str) -> date | None:
    """The date of ``moment`` in ``timezone`` (None for None, or a naive value ingest refuses)."""
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).date()


def epoch_second(moment: datetime | None) -> int | None:
    """Whole seconds since 1970 UTC, rounded down (None for None or a naive value)."""
    if moment is None or moment.tzinfo is None:
        return None
    return (moment - _EPOCH) // _SECOND


def work_stamps(record: r.ContactRecord, timezone: str | None) -> dict[str, Any]:
    """A contact's work day (when it has an agent) and work span: it starts at the first response
    (or creation) and lasts its handle time."""
    start = record.first_response_at or record.created_at
    begin = epoch_second(start)
    return {
        "work_day": local_day(start, timezone) if timezone is not None else None,
        "work_start": begin,
        "work_end": None if begin is None else begin + (record.handle_seconds or 0),
    }


class _RefResolver:
    """Maps a source's external ids to row ids, creating placeholder rows for unknown ones.

    A contact that names an agent the sync has not seen yet is kept (linked to a placeholder that
    the agent stream fills in later) instead of dropped.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._known: dict[str, dict[str, int]] = {"agent": {}, "team": {}, "survey": {}}
        self.timezones: dict[int, str] = {}  # agent row id -> timezone, for the work-day stamps

    def forget(self) -> None:
        for cache in self._known.values():
            cache.clear()
        self.timezones.clear()

    def _select(self, conn: Connection, table: Table, wanted: list[str], cache: dict[str, int]) -> None:
        agents = table.name == "agent"
        columns = [table.c.external_id, table.c.id, *([table.c.timezone] if agents else [])]
        rows = conn.execute(
            select(*columns).where(table.c.source == self.source, one_of(table.c.external_id, wanted))
        )
        for row in rows:
            cache[row[0]] = row[1]
            if agents:
                self.timezones[row[1]] = row[2]

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
            rows = conn.execute(select(table.c.key, table.c.id).where(one_of(table.c.key, wanted)))
            cache.update({k: i for k, i in rows})
            unknown = [k for k in wanted if k not in cache]
            if unknown:
                raise ValueError(f"pulse answers refer to unknown surveys: {', '.join(unknown[:5])}")
        return cache


# What ingest looks rows up in by (source, external id) before writing over them.
_ANALYZED = ("contact", "agent_status_interval", "csat_rating")


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
        refresh_statistics(self.engine, _ANALYZED, INGEST_STALE_SHARE)
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
        before = self._stored_timezones(conn, [row["external_id"] for row in rows])
        self._put(conn, m.Agent, rows, result)
        for row in rows:
            stored = before.get(row["external_id"])
            if stored is not None and stored[1] != row["timezone"]:
                self._restamp(conn, stored[0], row["timezone"])

    def _stored_timezones(self, conn: Connection, external_ids: list[str]) -> dict[str, tuple[int, str]]:
        agent = _table(m.Agent)
        query = select(agent.c.external_id, agent.c.id, agent.c.timezone).where(
            agent.c.source == self.source, one_of(agent.c.external_id, external_ids)
        )
        return {ext: (agent_id, tz) for ext, agent_id, tz in conn.execute(query)}

    def _restamp(self, conn: Connection, agent_id: int, timezone: str) -> None:
        """An agent's timezone changed (a placeholder's UTC included): their local days move.

        Their rows get new work days, and the first day before and after is noted for the
        compute (:class:`db.models.ComputePending`), which rebuilds them from there: a day that
        no longer exists under the new timezone goes, the days the work moved to come.
        """
        log.info("agent %s moved to timezone %s: re-stamping their work days", agent_id, timezone)
        contact, status = _table(m.Contact), _table(m.AgentStatusInterval)
        start = func.coalesce(contact.c.first_response_at, contact.c.created_at)
        restamps = (
            (contact, func.ax_local_date(start, timezone, type_=Date)),
            (status, func.ax_local_date(status.c.started_at, timezone, type_=Date)),
        )
        firsts: list[date] = []
        for table, day in restamps:
            mine = table.c.agent_id == agent_id
            before = conn.execute(select(func.min(table.c.work_day)).where(mine)).scalar()
            conn.execute(update(table).where(mine).values(work_day=day))
            after = conn.execute(select(func.min(table.c.work_day)).where(mine)).scalar()
            firsts += [d for d in (before, after) if d is not None]
        if firsts:
            self._note_pending(conn, [(agent_id, min(firsts))])
        self._refs.timezones[agent_id] = timezone

    def _moved_away(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Note the agent-days that stored rows about to be overwritten by ``rows`` leave: a contact
        handed to another agent, a first response that moves its work to another day."""
        query = select(table.c.external_id, table.c.agent_id, table.c.work_day).where(
            table.c.source == self.source, one_of(table.c.external_id, (row["external_id"] for row in rows))
        )
        stored = {ext: (agent_id, day) for ext, agent_id, day in conn.execute(query)}
        left = {
            old
            for row in rows
            if (old := stored.get(row["external_id"])) is not None
            and None not in old
            and old != (row["agent_id"], row["work_day"])
        }
        self._note_pending(conn, sorted(left))  # type: ignore[arg-type]

    def _note_pending(self, conn: Connection, agent_days: list[tuple[int, date]]) -> None:
        if agent_days:
            conn.execute(
                insert(_table(m.ComputePending)),
                [{"agent_id": a, "day": d, "noted_at": self._synced_at} for a, d in agent_days],
            )

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
        timezones = self._refs.timezones
        ratings = self._lowest_ratings(conn, [c.external_id for c in recs])
        src = self.source
        rows = []
        for c in recs:
            agent_id = agents.get(c.agent_external_id) if c.agent_external_id else None
            rows.append(
                {
                    "source": src,
                    "external_id": c.external_id,
                    "channel": c.channel,
                    "queue": c.queue,
                    "team_id": teams.get(c.team_external_id) if c.team_external_id else None,
                    "agent_id": agent_id,
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
                    **work_stamps(c, timezones.get(agent_id, "UTC") if agent_id is not None else None),
                    "rating_score": ratings.get(c.external_id),
                }
            )
        self._moved_away(conn, _table(m.Contact), rows)
        self._put(conn, m.Contact, rows, result)

    def _lowest_ratings(self, conn: Connection, contact_ids: list[str]) -> dict[str, int]:
        """The lowest live rating of each of these contacts that has one (ratings can come first)."""
        rating = _table(m.CsatRating)
        query = (
            select(rating.c.contact_external_id, func.min(rating.c.score))
            .where(
                rating.c.source == self.source,
                one_of(rating.c.contact_external_id, contact_ids),
                rating.c.deleted.is_(False),
            )
            .group_by(rating.c.contact_external_id)
        )
        return dict(conn.execute(query).all())

    def _refresh_ratings(self, conn: Connection, contact_ids: Iterable[str]) -> None:
        """Set ``rating_score`` of these contacts from their live ratings; a contact whose score
        changes gets a new synced_at, so the compute rebuilds its day (the one a rating moved away
        from included)."""
        contact, rating = _table(m.Contact), _table(m.CsatRating)
        lowest = (
            select(func.min(rating.c.score))
            .where(
                rating.c.source == contact.c.source,
                rating.c.contact_external_id == contact.c.external_id,
                rating.c.deleted.is_(False),
            )
            .scalar_subquery()
        )
        conn.execute(
            update(contact)
            .where(
                contact.c.source == self.source,
                one_of(contact.c.external_id, sorted(set(contact_ids))),
                contact.c.rating_score.is_distinct_from(lowest),
            )
            .values(rating_score=lowest, synced_at=self._synced_at)
        )

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
                "work_day": local_day(
                    s.started_at, self._refs.timezones.get(agents[s.agent_external_id], "UTC")
                ),
            }
            for s in recs
        ]
        self._moved_away(conn, _table(m.AgentStatusInterval), rows)
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
        moved_from = self._rated_contacts(conn, [row["external_id"] for row in rows])
        self._put(conn, m.CsatRating, rows, result)
        self._refresh_ratings(conn, [row["contact_external_id"] for row in rows] + moved_from)

    def _rated_contacts(self, conn: Connection, rating_ids: list[str]) -> list[str]:
        """The contacts these ratings are stored against (before an update may point them elsewhere)."""
        rating = _table(m.CsatRating)
        query = select(rating.c.contact_external_id).where(
            rating.c.source == self.source, one_of(rating.c.external_id, rating_ids)
        )
        return list(conn.execute(query).scalars())

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
            conn.execute(
                update(table)
                .where(
                    table.c.source == self.source,
                    one_of(table.c.external_id, ids),
                    table.c.deleted.is_(False),  # deleted again: nothing changes
                )
                .values(**values)
            )
            result.rows[f"{kind} deleted"] += len(ids)
            if kind == _table(m.CsatRating).name:
                self._refresh_ratings(conn, self._rated_contacts(conn, ids))

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
