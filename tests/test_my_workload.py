"""An agent's own workload: today's running totals against what they usually had by this time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.accounts import create_user, viewer_for
from ax.compute import run_compute
from ax.workload import my_workload
from db.ingest import Ingestor
from db.models import Agent, Role
from db.records import AgentRecord, ContactRecord

LISBON = ZoneInfo("Europe/Lisbon")  # UTC+0 until Sunday 29 March 2026, UTC+1 from then
HANDLE = 600  # seconds, every contact
NOW = datetime(2026, 4, 1, 10, 30, tzinfo=LISBON)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LISBON)


def _workload(engine: Engine, starts: list[datetime]):
    records = [AgentRecord("a1", "Ana", timezone="Europe/Lisbon")] + [
        ContactRecord(f"c{i}", "phone", start.astimezone(UTC), agent_external_id="a1", handle_seconds=HANDLE)
        for i, start in enumerate(starts)
    ]
    Ingestor(engine, "t").write_page("all", records, None)
    run_compute(engine, full=True)
    with Session(engine) as session:
        agent_id = session.exec(select(Agent.id)).one()
        user = create_user(session, username="ana", password="pw-ana", role=Role.agent, agent_id=agent_id)
        session.commit()
        return my_workload(session, viewer_for(session, user), now=NOW)


def test_today_so_far_compares_with_the_same_local_clock_time_on_each_worked_day(engine: Engine) -> None:
    """Worked by hand. At 10:30 in Lisbon on 1 April, the worked days of the 28 before are:
    - Fri 27 March (UTC+0): 08:00, 10:00, 10:29 before 10:30, 11:00 after: 3 (counted at 10:30 in
      UTC+1, i.e. 09:30 on that day's clock, only 08:00 would be);
    - Mon 30 March (UTC+1): 09:00 before; 10:30 is not before 10:30; 14:00 after: 1;
    - Tue 31 March: 10:45 only: 0, but a worked day all the same.
    By 10:30: (3 + 1 + 0) / 3 contacts, each with 10 min of handle time. Today so far: 08:00, 09:00.
    """
    fri, mon, tue, today = date(2026, 3, 27), date(2026, 3, 30), date(2026, 3, 31), NOW.date()
    mine = _workload(
        engine,
        [
            *(at(fri, h, m) for h, m in ((8, 0), (10, 0), (10, 29), (11, 0))),
            *(at(mon, h, m) for h, m in ((9, 0), (10, 30), (14, 0))),
            at(tue, 10, 45),
            at(today, 8),
            at(today, 9),
        ],
    )
    assert mine.today == today
    assert mine.so_far is not None and mine.so_far.at == NOW
    assert mine.so_far.contacts == pytest.approx(4 / 3)
    assert mine.so_far.handle_hours == pytest.approx(4 * HANDLE / 3600 / 3)
    assert mine.today_row["contacts"] == 2
    # the whole-day average stays what it was: 8 contacts over 3 worked days
    assert mine.baseline["contacts"] == pytest.approx(8 / 3)


def test_no_worked_day_before_today_gives_nothing_to_compare_with(engine: Engine) -> None:
    mine = _workload(engine, [at(NOW.date(), 8)])
    assert mine.so_far is None and mine.baseline is None
