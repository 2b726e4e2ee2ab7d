"""Per agent-day workload, computed set-based in SQL from contacts.

An agent's day is their *local* day: ``ax_local_date(ts, tz)`` is a PostgreSQL function
(created by the first migration) and a Python function registered on every SQLite connection,
so this one statement runs unchanged on both back ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, and_, case, delete, func, insert, literal, or_, select
from sqlalchemy.engine import Engine

from db.models import Agent, AgentDay, Contact
from db.types import utcnow

HARD_CSAT_MAX = 2
HARD_SENTIMENT_MAX = -0.5


def _agent_day_select(since: datetime | None, computed_at: datetime):
    c = Contact.__table__.c
    a = Agent.__table__.c
    day = func.ax_local_date(c.created_at, a.timezone, type_=Date)

    def count_if(condition) -> object:
        return func.sum(case((condition, 1), else_=0))

    hard = or_(c.csat <= HARD_CSAT_MAX, c.sentiment <= HARD_SENTIMENT_MAX, c.escalated.is_(True))
    where = [c.deleted.is_(False), c.agent_id.is_not(None)]
    if since is not None:
        where.append(c.created_at >= since)
    return (
        select(
            c.agent_id,
            day.label("day"),
            func.count().label("contacts"),
            count_if(c.channel == "email"),
            count_if(c.channel == "chat"),
            count_if(c.channel == "phone"),
            count_if(c.channel.not_in(("email", "chat", "phone"))),
            func.coalesce(func.sum(c.handle_seconds), 0),
            func.coalesce(func.sum(c.talk_seconds), 0),
            func.coalesce(func.sum(c.hold_seconds), 0),
            func.coalesce(func.sum(c.wrap_seconds), 0),
            count_if(hard),
            func.coalesce(func.sum(c.csat), 0),
            func.count(c.csat),
            literal(computed_at, AgentDay.__table__.c.computed_at.type),
        )
        .select_from(Contact.__table__.join(Agent.__table__, a.id == c.agent_id))
        .where(and_(*where))
        .group_by(c.agent_id, day)
    )


AGENT_DAY_COLUMNS = [
    "agent_id",
    "day",
    "contacts",
    "contacts_email",
    "contacts_chat",
    "contacts_phone",
    "contacts_other",
    "handle_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "hard_contacts",
    "csat_sum",
    "csat_count",
    "computed_at",
]


def compute_agent_days(engine: Engine, *, since: date | None = None) -> int:
    """Recompute agent-days from local day ``since`` (all days when None) in one transaction.

    A crash mid-way rolls back to the previous results; rows before ``since`` are kept.
    """
    table = AgentDay.__table__
    now = utcnow()
    with engine.begin() as conn:
        if since is None:
            conn.execute(delete(table))
            rows = _agent_day_select(None, now)
        else:
            conn.execute(delete(table).where(table.c.day >= since))
            # A local day can begin up to 14 h before UTC midnight of the same date (UTC+14).
            window_start = datetime.combine(since, time(), UTC) - timedelta(hours=14)
            inner = _agent_day_select(window_start, now).subquery()
            rows = select(*inner.c).where(inner.c.day >= since)
        conn.execute(insert(table).from_select(AGENT_DAY_COLUMNS, rows))
        # rowcount of INSERT … SELECT is not reported by every driver; count what the window holds.
        written = select(func.count()).select_from(table)
        if since is not None:
            written = written.where(table.c.day >= since)
        return conn.execute(written).scalar_one()
