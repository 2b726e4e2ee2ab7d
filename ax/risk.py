"""Burnout risk: a transparent points model over sustained workload signals (``indicators.md``).

Each driver counts only when *sustained*: on ``sustained_days`` (3) of the last 5 working days,
or over the rolling 7 days. The level is low (0–1 drivers), elevated (2–3) or high (4+); the
drivers always travel with it, in plain words. This is a default, not a validated model, and
a level is a prompt to talk, not a diagnosis.

What is stored here (``agent_risk``) uses workload only: it is the level a lead may see, so no
per-agent number a lead can see carries anything from survey answers. The agent's own level
adds their survey signals at read time (:mod:`ax.risk_view`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.engine import Connection

from ax.baselines import history_start
from ax.indicators import Scope
from ax.settings import Settings
from ax.wording import duration_text
from db.models import AgentDay, AgentRisk
from db.sqlfuncs import day_number
from db.upsert import bulk_upsert

RECENT_DAYS = 5
# The rolling week: this day and the 6 calendar days before it.
WEEK_BEFORE = timedelta(days=6)


class Level(StrEnum):
    low = "low"
    elevated = "elevated"
    high = "high"


@dataclass(frozen=True)
class Driver:
    """One reason behind a level: a stable key for code, plain words for people."""

    key: str
    text: str
    source: str = "workload"

    def to_dict(self) -> dict[str, str]:
        # Spelled out: dataclasses.asdict deep-copies, a cost paid for every driver of every day.
        return {"key": self.key, "text": self.text, "source": self.source}


def workload_level(points: int, settings: Settings) -> Level:
    if points >= settings.risk_high_points:
        return Level.high
    if points >= settings.risk_elevated_points:
        return Level.elevated
    return Level.low


def workload_drivers(row: Any, settings: Settings) -> list[Driver]:
    """The sustained workload signals in one row of :func:`_signals` (counts over recent days)."""
    of = f"of the last {row.recent} working days"

    def often(count: int | None) -> bool:
        return (count or 0) >= settings.sustained_days

    drivers: list[Driver] = []
    if often(row.occ_high):
        drivers.append(
            Driver("occupancy", f"occupancy above {settings.occupancy_alert:.0%} on {row.occ_high} {of}")
        )
    elif row.recent >= RECENT_DAYS and row.occ_pressure == row.recent:
        drivers.append(
            Driver("occupancy_pressure", f"occupancy above {settings.occupancy_pressure:.0%} on each {of}")
        )
    over_share = (row.overtime_7d or 0) / row.scheduled_7d if row.scheduled_7d else 0.0
    if often(row.long_days):
        drivers.append(
            Driver("overtime", f"more than {settings.long_day_hours:g} h logged in on {row.long_days} {of}")
        )
    elif over_share > settings.overtime_share:
        drivers.append(
            Driver(
                "overtime",
                f"{duration_text(row.overtime_7d)} over schedule in the last 7 days ({over_share:.0%})",
            )
        )
    if often(row.long_stretches):
        drivers.append(
            Driver(
                "no_breaks",
                f"more than {duration_text(settings.stretch_warning_minutes * 60)} without a break "
                f"on {row.long_stretches} {of}",
            )
        )
    if often(row.hard_runs):
        drivers.append(
            Driver(
                "hard_contacts",
                f"{settings.hard_since_break} or more hard contacts between breaks on {row.hard_runs} {of}",
            )
        )
    if often(row.busy_chats):
        drivers.append(
            Driver(
                "concurrency",
                f"more than {settings.concurrency_warning:g} chats open at once on {row.busy_chats} {of}",
            )
        )
    if (row.consecutive_days or 0) >= settings.consecutive_days_warning:
        drivers.append(Driver("consecutive_days", f"{row.consecutive_days} days in a row worked"))
    above = f"more than {settings.deviation_sd:g} SD above the usual level"
    if often(row.aht_up):
        drivers.append(Driver("aht_rising", f"handle time {above} on {row.aht_up} {of}"))
    if often(row.hard_up):
        drivers.append(Driver("hard_rising", f"share of hard contacts {above} on {row.hard_up} {of}"))
    return drivers


def _signals(scope: Scope, settings: Settings):
    """Per agent-day: how many of the last 5 working days crossed each threshold, and 7-day sums."""
    d = AgentDay.__table__.c
    recent = {"partition_by": d.agent_id, "order_by": d.day, "rows": (-(RECENT_DAYS - 1), 0)}
    week = {"partition_by": d.agent_id, "order_by": day_number(d.day), "range_": (-6, 0)}

    def days_with(condition):
        return func.sum(case((condition, 1), else_=0)).over(**recent)

    where = [scope.agents(d.agent_id)]
    source = AgentDay.__table__
    if scope.since is not None:
        # Exactly what the windows of the days from ``since`` on look at: the 4 working days and
        # the 6 calendar days before it.
        history = history_start(scope, RECENT_DAYS - 1)
        source = source.join(history, history.c.agent_id == d.agent_id)
        where.append(or_(d.day >= history.c.first, d.day >= scope.since - WEEK_BEFORE))
    inner = (
        select(
            d.agent_id,
            d.day,
            func.count().over(**recent).label("recent"),
            days_with(d.occupancy > settings.occupancy_alert).label("occ_high"),
            days_with(d.occupancy > settings.occupancy_pressure).label("occ_pressure"),
            days_with(d.logged_in_seconds > settings.long_day_hours * 3600).label("long_days"),
            days_with(d.longest_stretch_seconds > settings.stretch_warning_minutes * 60).label(
                "long_stretches"
            ),
            days_with(d.hard_since_break_max >= settings.hard_since_break).label("hard_runs"),
            days_with(d.chat_concurrency > settings.concurrency_warning).label("busy_chats"),
            days_with(d.aht_dev > settings.deviation_sd).label("aht_up"),
            days_with(d.hard_share_dev > settings.deviation_sd).label("hard_up"),
            d.consecutive_days,
            func.sum(d.overtime_seconds).over(**week).label("overtime_7d"),
            func.sum(case((d.logged_in_seconds.is_not(None), d.scheduled_seconds), else_=0))
            .over(**week)
            .label("scheduled_7d"),
        )
        .select_from(source)
        .where(and_(*where))
        .subquery("signals")
    )
    query = select(inner)
    if scope.since is not None:
        query = query.where(inner.c.day >= scope.since)
    return query


_NO_DRIVERS = json.dumps([])


def rebuild_risk(conn: Connection, scope: Scope, settings: Settings, computed_at: datetime) -> int:
    """Replace the stored (workload-only) risk levels for the agent-days in ``scope``; returns the
    rows written (every agent-day in scope gets one)."""
    table = AgentRisk.__table__
    stale = delete(table).where(scope.agents(table.c.agent_id))
    if scope.since is not None:
        stale = stale.where(table.c.day >= scope.since)
    conn.execute(stale)
    written = 0
    rows = []
    for signal in conn.execute(_signals(scope, settings)):
        drivers = workload_drivers(signal, settings)
        rows.append(
            {
                "agent_id": signal.agent_id,
                "day": signal.day,
                "level": workload_level(len(drivers), settings).value,
                "points": len(drivers),
                "drivers": json.dumps([driver.to_dict() for driver in drivers]) if drivers else _NO_DRIVERS,
                "computed_at": computed_at,
            }
        )
        if len(rows) >= _INSERT_BATCH:
            written += _insert(conn, rows)
    return written + _insert(conn, rows)


_INSERT_BATCH = 5000
_RISK_COLUMNS = ("agent_id", "day", "level", "points", "drivers", "computed_at")


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` (and empty the list): COPY on PostgreSQL, where even batched INSERTs cost
    tens of microseconds a row; SQLite's executemany is already fast. The rows in scope were just
    deleted, so nothing conflicts."""
    count = len(rows)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY agent_risk ({', '.join(_RISK_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in _RISK_COLUMNS])
    elif rows:
        bulk_upsert(conn, AgentRisk.__table__, rows, key=("agent_id", "day"), batch_size=_INSERT_BATCH)
    rows.clear()
    return count


def stored_drivers(risk: AgentRisk) -> list[Driver]:
    return [Driver(**item) for item in json.loads(risk.drivers or "[]")]
