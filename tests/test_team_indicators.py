"""Team-day roll-ups: hand-made stores whose expected numbers are worked out in the comments.

Every test runs on SQLite and PostgreSQL (the ``engine`` fixture) against the same literal
expectations, so a passing run on both means both back ends give identical results.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.erlang import required_agents
from ax.settings import Settings, get_settings
from ax.team_indicators import _slot_seconds, compute_team_days, offset_changes, offset_runs, peak_aht
from db.models import (
    Agent,
    AgentDay,
    AgentStatusInterval,
    Contact,
    QueueSnapshot,
    Team,
    TeamDay,
    TeamMembership,
)

D = date(2026, 3, 10)
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _at(hour: int, minute: int = 0, day: date = D) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


class Seed:
    """Collects rows of each table, then writes them in dependency order with explicit ids."""

    def __init__(self) -> None:
        self.rows: dict[type, list[dict[str, Any]]] = {
            m: []
            for m in (Team, Agent, TeamMembership, AgentDay, Contact, QueueSnapshot, AgentStatusInterval)
        }

    def _add(self, model: type, **row: Any) -> None:
        if model is not AgentDay:
            row.setdefault("source", "t")
            row.setdefault("external_id", f"{model.__tablename__}-{len(self.rows[model])}")
            row.setdefault("deleted", False)
        self.rows[model].append(row)

    def team(self, team_id: int, *, deleted: bool = False) -> None:
        self._add(Team, id=team_id, name=f"T{team_id}", deleted=deleted)

    def agents(self, *agent_ids: int) -> None:
        for agent_id in agent_ids:
            self._add(Agent, id=agent_id, name=f"A{agent_id}")

    def member(self, team_id: int, agent_id: int, *, deleted: bool = False) -> None:
        self._add(TeamMembership, team_id=team_id, agent_id=agent_id, deleted=deleted)

    def day(self, agent_id: int, day: date = D, **values: Any) -> None:
        self._add(AgentDay, agent_id=agent_id, day=day, computed_at=NOW, **values)

    def contact(self, team_id: int, at: datetime, channel: str = "phone", **values: Any) -> None:
        self._add(Contact, team_id=team_id, created_at=at, channel=channel, **values)

    def snapshot(self, team_id: int, at: datetime, **values: Any) -> None:
        self._add(QueueSnapshot, queue="q", team_id=team_id, at=at, **values)

    def status(self, agent_id: int, status: str, start: datetime, end: datetime) -> None:
        self._add(AgentStatusInterval, agent_id=agent_id, status=status, started_at=start, ended_at=end)

    def write(self, engine: Engine) -> None:
        with engine.begin() as conn:
            for model, rows in self.rows.items():
                for row in rows:  # one by one: rows of a table set different columns
                    conn.execute(insert(model.__table__).values(**row))


def _compute(engine: Engine, since: date | None = None, **settings: Any) -> int:
    with engine.begin() as conn:
        return compute_team_days(conn, since=since, settings=Settings(**settings))


def _team_days(engine: Engine) -> dict[tuple[int, date], TeamDay]:
    with Session(engine) as session:
        return {(row.team_id, row.day): row for row in session.exec(select(TeamDay)).all()}


def test_workload_rolls_up_members_weighting_occupancy_and_keeping_unknown_null(engine: Engine) -> None:
    """Occupancy is on-queue weighted over agents with status data; no status data stays NULL, not 0."""
    seed = Seed()
    for team_id in (1, 2):
        seed.team(team_id)
    seed.team(3, deleted=True)
    seed.agents(1, 2, 3, 4, 5, 6)
    seed.member(1, 1)
    seed.member(1, 1)  # a second membership row for the same pair counts the agent once
    seed.member(1, 2)
    seed.member(1, 3)
    seed.member(2, 3)  # agent 3 is in teams 1 and 2: counted in each
    seed.member(2, 4)
    seed.member(1, 5, deleted=True)
    seed.member(3, 6)  # team 3 is deleted: no rows for it
    common = {"back_to_back": 0, "hard_contacts": 0}
    status_1 = {"on_queue_seconds": 9000, "occupancy": 0.8, "logged_in_seconds": 10000, "overtime_seconds": 0}
    status_2 = {"on_queue_seconds": 14400, "occupancy": 0.9375, "logged_in_seconds": 16000}
    seed.day(1, contacts=10, handle_seconds=7200, hard_contacts=2, back_to_back=3, **status_1)
    seed.day(
        2,
        contacts=20,
        handle_seconds=13500,
        hard_contacts=1,
        back_to_back=5,
        overtime_seconds=1600,
        **status_2,
    )
    seed.day(3, contacts=5, handle_seconds=3000, hard_contacts=0, back_to_back=1)  # no status data
    seed.day(4, contacts=4, handle_seconds=1000, **common)
    seed.day(5, contacts=100, handle_seconds=99999, on_queue_seconds=1, occupancy=1.0, **common)
    seed.day(6, contacts=100, handle_seconds=99999, **common)
    # Next day agent 1 alone, occupancy missing: handle 5000 s is capped at the 3600 s on queue.
    seed.day(1, D + timedelta(days=1), contacts=3, handle_seconds=5000, on_queue_seconds=3600, **common)
    seed.write(engine)

    assert _compute(engine) == 3  # (1, D), (1, D+1), (2, D)
    days = _team_days(engine)
    assert set(days) == {(1, D), (1, D + timedelta(days=1)), (2, D)}

    one = days[(1, D)]
    assert (one.agents, one.contacts, one.handle_seconds) == (3, 10 + 20 + 5, 7200 + 13500 + 3000)
    # Agent 3 has no status data: left out of on-queue time and occupancy, not counted as zero.
    assert one.on_queue_seconds == 9000 + 14400
    # (0.8·9000 + 0.9375·14400) ÷ (9000 + 14400) = (7200 + 13500) ÷ 23400 = 0.884615…
    assert one.occupancy == pytest.approx(20700 / 23400)
    assert (one.logged_in_seconds, one.overtime_seconds) == (26000, 1600)
    assert (one.hard_contacts, one.back_to_back) == (3, 9)
    assert one.agents_over_occupancy == 1  # 0.9375 > 0.90; 0.8 is not
    # No live contacts, no snapshots: queue figures unknown, counts zero.
    assert (one.waiting_avg, one.waiting_max, one.longest_wait_seconds) == (None, None, None)
    assert (one.service_level, one.answered, one.peak_hour_contacts) == (None, 0, 0)
    assert (one.agents_needed, one.agents_staffed) == (None, None)

    two = days[(2, D)]
    assert (two.agents, two.contacts, two.handle_seconds) == (2, 5 + 4, 3000 + 1000)
    # Nobody in team 2 has status data: every status-derived figure is unknown.
    assert (two.on_queue_seconds, two.occupancy, two.logged_in_seconds, two.overtime_seconds) == (
        None,
        None,
        None,
        None,
    )
    assert two.agents_over_occupancy == 0

    capped = days[(1, D + timedelta(days=1))]
    assert (capped.agents, capped.on_queue_seconds) == (1, 3600)
    assert capped.occupancy == pytest.approx(1.0)  # min(5000, 3600) ÷ 3600

    # A lower alert threshold counts agent 1 (0.8) as well.
    _compute(engine, occupancy_alert=0.75)
    assert _team_days(engine)[(1, D)].agents_over_occupancy == 2


def test_service_level_counts_answered_live_contacts_and_queue_figures_come_from_snapshots(
    engine: Engine,
) -> None:
    """SL is judged on answered phone/chat/messaging contacts only; snapshots give the queue load."""
    seed = Seed()
    seed.team(1)
    seed.team(2)
    seed.agents(1, 2)
    seed.member(1, 1)
    seed.member(2, 2)
    seed.day(1, contacts=4, handle_seconds=1000)
    seed.day(2, contacts=1, handle_seconds=100)
    seed.contact(1, _at(9), "phone", agent_id=1, wait_seconds=10)  # answered within 20 s
    seed.contact(1, _at(9, 5), "chat", agent_id=1, wait_seconds=20)  # within: the target is inclusive
    seed.contact(1, _at(9, 10), "messaging", first_response_at=_at(9, 11), wait_seconds=21)  # late
    seed.contact(1, _at(9, 15), "phone", wait_seconds=90)  # abandoned: no agent, no response
    seed.contact(1, _at(9, 20), "email", agent_id=1, wait_seconds=5)  # not a live channel
    seed.contact(1, _at(9, 25), "phone", agent_id=1)  # wait unknown
    seed.contact(1, _at(9, 30), "phone", agent_id=1, wait_seconds=1, deleted=True)
    seed.contact(2, _at(10), "email", agent_id=2, wait_seconds=5)  # team 2: email only
    seed.snapshot(1, _at(9), waiting=2, longest_wait_seconds=30)
    seed.snapshot(1, _at(12), waiting=5, longest_wait_seconds=120)
    seed.snapshot(1, _at(15), waiting=0, longest_wait_seconds=0)
    seed.snapshot(1, _at(16), waiting=50, longest_wait_seconds=900, deleted=True)
    seed.snapshot(1, _at(9, day=D + timedelta(days=1)), waiting=3, longest_wait_seconds=45)
    seed.write(engine)

    assert _compute(engine) == 3  # (1, D), (1, D+1) from its snapshot alone, (2, D)
    days = _team_days(engine)
    one = days[(1, D)]
    # Answered: the phone at 10 s, the chat at 20 s, the messaging at 21 s → 3; within 20 s → 2.
    assert one.answered == 3
    assert one.service_level == pytest.approx(2 / 3)
    # Snapshots: waiting 2, 5, 0 → mean 7/3, max 5; longest wait max(30, 120, 0) = 120.
    assert one.waiting_avg == pytest.approx(7 / 3)
    assert (one.waiting_max, one.longest_wait_seconds) == (5, 120)
    # Arrivals at 09:00, 09:05, 09:10, 09:15, 09:25 are all live and in the 09:00 hour.
    assert one.peak_hour_contacts == 5

    snap_only = days[(1, D + timedelta(days=1))]
    assert (snap_only.agents, snap_only.contacts, snap_only.waiting_max) == (0, 0, 3)
    assert (snap_only.service_level, snap_only.answered) == (None, 0)

    two = days[(2, D)]
    assert (two.service_level, two.answered, two.peak_hour_contacts, two.agents_needed) == (None, 0, 0, None)
    assert two.waiting_avg is None

    # With a 30 s target the 21 s wait is within too: 3 of 3.
    _compute(engine, service_level_seconds=30)
    assert _team_days(engine)[(1, D)].service_level == pytest.approx(1.0)


def test_peak_hour_is_local_and_agents_needed_match_erlang_c(engine: Engine) -> None:
    """The busiest local hour (Kolkata, UTC+5:30) sets arrivals, AHT and the staffed count."""
    seed = Seed()
    for team_id in (1, 2, 3):
        seed.team(team_id)
    seed.agents(1, 2, 3, 4, 5, 6, 7, 8, 9)
    for agent_id in (1, 2, 3):
        seed.member(1, agent_id)
    for agent_id in (4, 5, 6, 7):
        seed.member(2, agent_id)
    # Team 1's chat concurrency that day: mean of 2.0 and 4.0 = 3.0 (agent 3 has no chats).
    seed.day(1, contacts=10, handle_seconds=3000, chat_concurrency=2.0)
    seed.day(2, contacts=10, handle_seconds=9000, chat_concurrency=4.0)
    seed.day(3, contacts=8, handle_seconds=800)
    # Local 10:00-11:00 IST is 04:30-05:30 UTC: 10 calls at 04:40-04:49 (300 s each) and
    # 10 chats at 05:20-05:29 (900 s each) → 20 arrivals. Local 11:00 has 8 calls at 05:35-05:42.
    # By UTC hour it would be 10 (04:xx) and 18 (05:xx): the local peak of 20 must win.
    for minute in range(10):
        seed.contact(1, _at(4, 40 + minute), "phone", agent_id=1, handle_seconds=300, wait_seconds=5)
        seed.contact(1, _at(5, 20 + minute), "chat", agent_id=2, handle_seconds=900, wait_seconds=5)
    for minute in range(8):
        seed.contact(1, _at(5, 35 + minute), "phone", agent_id=3, handle_seconds=100, wait_seconds=5)
    # Snapshots in the peak hour say 4 and 6 online; the 9 at 05:45 UTC is the next hour.
    seed.snapshot(1, _at(4, 45), agents_online=4)
    seed.snapshot(1, _at(5, 15), agents_online=6)
    seed.snapshot(1, _at(5, 45), agents_online=9)

    # Team 2: no snapshots, so staffed = members on the queue during its peak hour (04:30-05:30).
    seed.contact(2, _at(4, 50), "phone", agent_id=4, handle_seconds=200)
    seed.contact(2, _at(5, 0), "phone", agent_id=4, handle_seconds=200)
    seed.contact(2, _at(6, 0), "phone", agent_id=5, handle_seconds=200)
    seed.status(4, "available", _at(4), _at(4, 50))  # overlaps: counts
    seed.status(4, "busy", _at(4, 50), _at(5, 10))  # same agent again: still one
    seed.status(5, "break", _at(4, 30), _at(5, 30))  # a break is not on the queue
    seed.status(6, "busy", _at(5, 29), _at(6))  # overlaps the last minute: counts
    seed.status(7, "online", _at(5, 30), _at(6))  # starts as the hour ends: does not count
    seed.status(8, "online", _at(4), _at(6))  # not a member of team 2
    # Team 3: live contacts without handle times → arrivals known, staffing unknown.
    seed.contact(3, _at(4, 40), "phone")
    seed.write(engine)

    _compute(engine, timezone="Asia/Kolkata")
    days = _team_days(engine)

    one = days[(1, D)]
    assert one.peak_hour_contacts == 20
    # AHT = (10·300 + 10·900 ÷ 3.0) ÷ 20 = (3000 + 3000) ÷ 20 = 300 s
    assert peak_aht(3000, 10, 9000, 10, 3.0) == pytest.approx(300)
    expected = required_agents(arrivals=20, interval_seconds=3600, aht=300).agents
    assert one.agents_needed == expected == 4
    # Without the concurrency the AHT would be 600 s and the answer 6: the division matters.
    assert required_agents(arrivals=20, interval_seconds=3600, aht=600).agents == 6
    assert one.agents_staffed == 6
    assert one.answered == 28 and one.service_level == pytest.approx(1.0)

    two = days[(2, D)]
    assert two.peak_hour_contacts == 2
    assert two.agents_needed == required_agents(arrivals=2, interval_seconds=3600, aht=200).agents
    assert two.agents_staffed == 2  # agents 4 and 6
    assert (two.answered, two.service_level) == (0, None)  # no wait times known

    three = days[(3, D)]
    assert (three.peak_hour_contacts, three.agents_needed, three.agents_staffed) == (1, None, None)

    # Stricter goals need more agents: 90% in 10 s at most 70% occupied.
    _compute(
        engine,
        timezone="Asia/Kolkata",
        service_level_target=0.9,
        service_level_seconds=10,
        max_occupancy=0.7,
    )
    strict = required_agents(
        arrivals=20,
        interval_seconds=3600,
        aht=300,
        target_seconds=10,
        service_level_goal=0.9,
        max_occupancy=0.7,
    ).agents
    assert _team_days(engine)[(1, D)].agents_needed == strict


def test_hours_on_a_dst_change_day_are_counted_from_local_midnight(engine: Engine) -> None:
    """Lisbon falls back at 02:00 on 25 Oct 2026: 01:xx happens twice, but each bucket lasts 3600 s."""
    lisbon = ZoneInfo("Europe/Lisbon")
    runs = offset_runs(lisbon, date(2026, 10, 24), date(2026, 10, 26))
    # Offset at local midnight: +1 h on the 24th and 25th (still summer time at 00:00), 0 from the 26th.
    assert runs == [(date(2026, 10, 24), 3600), (date(2026, 10, 26), 0)]
    fall = date(2026, 10, 25)
    seed = Seed()
    seed.team(1)
    # 00:10 and 00:20 UTC are 01:10 and 01:20 summer time (hour 1 since local midnight, 23:00 UTC);
    # 01:10 UTC is 01:10 winter time, 2 h after midnight: a wall-clock hour would hold all three.
    for hour, minute in ((0, 10), (0, 20), (1, 10)):
        seed.contact(1, _at(hour, minute, day=fall), "phone", handle_seconds=120)
    seed.write(engine)
    _compute(engine, timezone="Europe/Lisbon")
    assert _team_days(engine)[(1, fall)].peak_hour_contacts == 2


def test_since_rebuilds_only_later_days_and_keeps_earlier_rows(engine: Engine) -> None:
    """An incremental run must not touch days before ``since``, nor pull in the evening before it."""
    before, after = date(2026, 3, 9), D
    seed = Seed()
    seed.team(1)
    seed.agents(1)
    seed.member(1, 1)
    seed.day(1, before, contacts=1, handle_seconds=100)
    seed.day(1, after, contacts=2, handle_seconds=200)
    # 03:00 UTC on 10 March is 23:00 on 9 March in New York: it belongs to the 9th.
    seed.contact(1, _at(3), "phone", agent_id=1, wait_seconds=60)
    seed.contact(1, _at(15), "phone", agent_id=1, wait_seconds=5)
    seed.write(engine)
    assert _compute(engine, timezone="America/New_York") == 2
    first = _team_days(engine)
    assert (first[(1, before)].service_level, first[(1, after)].service_level) == (0.0, 1.0)

    with engine.begin() as conn:
        conn.execute(update(AgentDay.__table__).values(contacts=50))
    assert _compute(engine, since=after, timezone="America/New_York") == 1
    days = _team_days(engine)
    assert days[(1, before)].contacts == 1  # kept as first computed
    assert days[(1, before)].computed_at == first[(1, before)].computed_at
    assert days[(1, after)].contacts == 50  # rebuilt
    assert (days[(1, after)].answered, days[(1, after)].peak_hour_contacts) == (1, 1)

    # A window with nothing in it deletes and writes nothing, and says so.
    assert _compute(engine, since=date(2027, 1, 1)) == 0
    assert len(_team_days(engine)) == 2


def test_staffing_settings_read_ax_env_and_reject_impossible_goals(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100% service-level goal can never be met by Erlang C, so it must fail at start-up."""
    monkeypatch.setenv("AX_SERVICE_LEVEL_SECONDS", "30")
    monkeypatch.setenv("AX_MAX_OCCUPANCY", "0.8")
    settings = get_settings()
    assert (settings.service_level_seconds, settings.max_occupancy) == (30, 0.8)
    assert (settings.service_level_target, settings.occupancy_alert) == (0.8, 0.9)
    with pytest.raises(ValidationError):
        Settings(service_level_target=1.0)
    with pytest.raises(ValidationError):
        Settings(service_level_seconds=0)
    with pytest.raises(ValidationError):
        Settings(max_occupancy=1.5)


def test_utc_offset_changes_are_found_to_the_second() -> None:
    """Contacts are dated by the offset in force at their instant: Lisbon moves from +1 h to UTC
    at 01:00 UTC on 25 Oct 2026; Kolkata (+5:30) never changes."""
    changes = offset_changes(ZoneInfo("Europe/Lisbon"), date(2026, 10, 24), date(2026, 10, 26))
    assert changes == [(None, 3600), (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 0)]
    assert offset_changes(ZoneInfo("Asia/Kolkata"), date(2026, 3, 1), date(2026, 3, 31)) == [(None, 19800)]


def test_contacts_around_a_dst_change_are_dated_by_the_offset_at_their_instant(engine: Engine) -> None:
    """Lisbon, 25 Oct 2026: 22:59:59 UTC on the 24th is 23:59:59 summer time (the 24th), 23:30 UTC
    is already 00:30 on the 25th, 00:59:59 UTC is 01:59:59 summer time and 23:30 UTC on the 25th is
    23:30 winter time (all three the 25th)."""
    fall = date(2026, 10, 25)
    seed = Seed()
    seed.team(1)
    for moment in (
        datetime(2026, 10, 24, 22, 59, 59, tzinfo=UTC),
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
    ):
        seed.contact(1, moment, "phone", first_response_at=moment, wait_seconds=5)
    seed.write(engine)
    _compute(engine, timezone="Europe/Lisbon")
    days = _team_days(engine)
    assert (days[(1, fall - timedelta(days=1))].answered, days[(1, fall)].answered) == (1, 3)
    # hours 0, 1 and 24 of the 25-hour day (counted from local midnight, 23:00 UTC on the 24th)
    assert days[(1, fall)].peak_hour_contacts == 1


@pytest.mark.parametrize(
    ("zone", "seconds"),
    [
        ("UTC", 3600),
        ("Europe/Lisbon", 3600),  # whole hours, and the changes fall on whole hours
        ("Asia/Kolkata", 1800),  # +05:30
        ("Asia/Kathmandu", 900),  # +05:45
        ("Australia/Lord_Howe", 1800),  # +10:30 and +11:00, changing at 02:00 local
    ],
)
def test_contacts_are_grouped_by_utc_slots_that_never_straddle_a_local_hour(zone: str, seconds: int) -> None:
    """The roll-up groups contacts by UTC slot before placing slots on local days and hours: a
    slot must lie within one local hour of one local day, whatever the zone's offsets."""
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    tz = ZoneInfo(zone)
    slot = _slot_seconds(offset_runs(tz, first, last), offset_changes(tz, first, last))
    assert slot == seconds
    # Every slot start is a local hour's start plus whole slots: no slot crosses a local hour.
    for _, offset in offset_runs(tz, first, last):
        assert offset % slot == 0
