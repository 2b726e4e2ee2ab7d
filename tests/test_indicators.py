"""Agent-day indicators on small hand-built fixtures whose values are worked out by hand here.

Runs on SQLite and PostgreSQL (the ``engine`` fixture), so both back ends must agree exactly.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from ax.compute import run_compute
from ax.settings import reset_settings
from db.ingest import Ingestor
from db.models import Agent, AgentDay
from db.records import AgentRecord, ContactRecord, CsatRecord, StatusIntervalRecord

DAY = date(2026, 3, 10)


def at(hh: int, mm: int, ss: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


def contact(n: int, start: datetime, handle: int, agent: str = "a", **kw) -> ContactRecord:
    """A contact first answered at ``start`` (created a minute before) taking ``handle`` seconds."""
    return ContactRecord(
        f"c{n}",
        kw.pop("channel", "phone"),
        start - timedelta(minutes=1),
        agent_external_id=agent,
        first_response_at=start,
        handle_seconds=handle,
        **kw,
    )


def status(n: int, name: str, start: datetime, end: datetime, agent: str = "a") -> StatusIntervalRecord:
    return StatusIntervalRecord(f"s{agent}{n}", agent, name, start, end)


def agent_days(engine) -> dict[tuple[str, date], AgentDay]:
    with Session(engine) as session:
        rows = session.exec(select(AgentDay, Agent.external_id).join(Agent)).all()
    return {(ext, row.day): row for row, ext in rows}


def one_day_records() -> list:
    """One worked morning: three on-queue blocks, a 3-minute pause, a 15-minute break, 7 contacts."""
    return [
        AgentRecord("a", "Ana", scheduled_hours_per_day=2.5),
        status(1, "available", at(9, 0), at(10, 0)),  # 3600 s
        status(2, "break", at(10, 0), at(10, 3)),  # 180 s: shorter than 5 min, not a break
        status(3, "available", at(10, 3), at(11, 0)),  # 3420 s
        status(4, "break", at(11, 0), at(11, 15)),  # 900 s
        status(5, "available", at(11, 15), at(12, 0)),  # 2700 s
        status(6, "offline", at(12, 0), at(13, 0)),  # not logged in: ignored
        contact(1, at(9, 5), 600, csat=1),  # hard (CSAT 1); ends 09:15:00
        contact(2, at(9, 15, 30), 300, sentiment=-0.7),  # 30 s after c1 ended: back-to-back; hard
        contact(3, at(9, 22), 600, escalated=True),  # 90 s after c2 ended (09:20:30): not b2b; hard
        contact(4, at(9, 32, 45), 300),  # 45 s after c3 ended (09:32:00): b2b
        contact(5, at(11, 20), 1200),  # hard through its rating below; ends 11:40:00
        CsatRecord("r5", "c5", 2, at(12, 30), "a"),
        contact(6, at(11, 40), 600, channel="chat"),  # starts as c5 ends: b2b; 11:40-11:50
        contact(7, at(11, 45), 600, channel="chat"),  # overlaps c6: b2b; 11:45-11:55
    ]


def test_one_day_worked_by_hand(engine):
    Ingestor(engine, "t").write_page("all", one_day_records())
    run_compute(engine, full=True)
    day = agent_days(engine)[("a", DAY)]
    # on queue 3600 + 3420 + 2700 = 9720 s; breaks 180 + 900 = 1080 s; logged in 10800 s
    assert (day.on_queue_seconds, day.break_seconds, day.logged_in_seconds) == (9720, 1080, 10800)
    # scheduled 2.5 h = 9000 s, so 1800 s over
    assert (day.scheduled_seconds, day.overtime_seconds) == (9000, 1800)
    # handled 600 + 300 + 600 + 300 + 1200 + 600 + 600 = 4200 s of 9720 s on queue
    assert day.handle_seconds == 4200
    assert day.occupancy == pytest.approx(4200 / 9720)
    # c2, c4, c6 (gap 0), c7 (overlap) start within 60 s of the previous contact's end
    assert day.back_to_back == 4
    # 09:00-11:00 is one stretch (the 3-minute pause does not break it): 7200 s; then 2700 s
    assert day.longest_stretch_seconds == 7200
    # c1, c2, c3 in the first stretch, c5 in the second: at most 3 hard contacts between breaks
    assert (day.hard_contacts, day.hard_since_break_max) == (4, 3)
    # CSAT: c1's own 1, c5's rating 2
    assert (day.csat_sum, day.csat_count) == (3, 2)
    # chats 11:40-11:50 and 11:45-11:55: 1200 s of chat over 900 s with a chat open
    assert day.chat_concurrency == pytest.approx(1200 / 900)
    assert (day.contacts, day.contacts_phone, day.contacts_chat) == (7, 5, 2)


def test_missing_status_data_is_unknown_not_zero(engine):
    Ingestor(engine, "t").write_page(
        "all",
        [AgentRecord("b", "Bo"), contact(1, at(9, 0), 300, agent="b"), contact(2, at(9, 30), 300, agent="b")],
    )
    run_compute(engine, full=True)
    day = agent_days(engine)[("b", DAY)]
    assert day.contacts == 2 and day.handle_seconds == 600
    assert day.occupancy is None and day.on_queue_seconds is None and day.logged_in_seconds is None
    assert day.overtime_seconds is None and day.longest_stretch_seconds is None
    assert day.hard_since_break_max is None
    assert day.chat_concurrency is None  # no chats at all


def test_agent_days_are_local_days(engine):
    Ingestor(engine, "t").write_page(
        "all",
        [
            AgentRecord("ny", "Nia", timezone="America/New_York"),
            # 03:00 UTC on 10 March is 23:00 on 9 March in New York (EDT started 8 March 2026)
            contact(1, at(3, 0), 400, agent="ny", talk_seconds=300, hold_seconds=40, wrap_seconds=60),
            contact(2, at(14, 0), 200, agent="ny", channel="email"),
            contact(3, at(17, 0), 50, agent="ny", deleted=True),
        ],
    )
    run_compute(engine, full=True)
    days = agent_days(engine)
    ninth, tenth = days[("ny", date(2026, 3, 9))], days[("ny", DAY)]
    assert (ninth.contacts, ninth.talk_seconds, ninth.hold_seconds, ninth.wrap_seconds) == (1, 300, 40, 60)
    assert (tenth.contacts, tenth.contacts_email, tenth.handle_seconds) == (1, 1, 200)  # deleted one left out


def _history(agent: str, handles: list[int], start: date) -> list:
    """One contact a day on consecutive days, with the given handle times."""
    return [
        contact(100 + i, at(10, 0, day=start + timedelta(days=i)), handle, agent=agent)
        for i, handle in enumerate(handles)
    ]


def test_baseline_deviation_and_consecutive_days(engine):
    handles = [300, 500] * 5 + [300, 1000]  # 11 ordinary days alternating 300/500 s, then 1000 s
    start = date(2026, 3, 1)
    Ingestor(engine, "t").write_page("all", [AgentRecord("d", "Dee"), *_history("d", handles, start)])
    run_compute(engine, full=True)
    days = agent_days(engine)
    last = days[("d", start + timedelta(days=11))]
    # Baseline = the 11 days before: mean 390.91 s, SD 99.59 s (population SD of the 28-day window).
    prior = handles[:11]
    mean = sum(prior) / 11
    sd = math.sqrt(sum(x * x for x in prior) / 11 - mean * mean)
    # EWMA, λ = 0.3, over the last 5 days (1000, 300, 500, 300, 500), weights renormalised to 1
    weights = [0.3 * 0.7**k for k in range(5)]
    ewma = sum(w * x for w, x in zip(weights, [1000, 300, 500, 300, 500], strict=True)) / sum(weights)
    assert ewma == pytest.approx(605.08, abs=0.01)
    assert last.aht_dev == pytest.approx((ewma - mean) / sd)  # ≈ 2.15 SD above the agent's usual
    assert last.aht_dev > 2
    # Day 10 has only 9 days before it: fewer than baseline_min_days (10), so no deviation yet.
    assert days[("d", start + timedelta(days=9))].aht_dev is None
    assert last.consecutive_days == 12
    assert last.occupancy_dev is None  # occupancy unknown all along (no status data)


def test_consecutive_days_restart_after_a_day_off(engine):
    start = date(2026, 3, 1)
    records = [
        contact(200 + i, at(10, 0, day=start + timedelta(days=i)), 60, agent="e") for i in (0, 1, 2, 4, 5)
    ]
    Ingestor(engine, "t").write_page("all", [AgentRecord("e", "Eve"), *records])
    run_compute(engine, full=True)
    days = agent_days(engine)
    assert [days[("e", start + timedelta(days=i))].consecutive_days for i in (0, 1, 2, 4, 5)] == [
        1,
        2,
        3,
        1,
        2,
    ]


def test_incremental_compute_rebuilds_only_what_was_synced(engine, monkeypatch):
    # The margin re-reads rows synced just before the last run (pages still committing then); with
    # no concurrent sync here it is set to zero so "only what was synced" is exact.
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    ingest = Ingestor(engine, "t")
    ingest.write_page("all", [AgentRecord("a", "Ana"), AgentRecord("b", "Bo"), contact(1, at(9, 0), 100)])
    ingest.write_page("all", [contact(2, at(9, 0, day=date(2026, 3, 11)), 100, agent="b")])
    first = run_compute(engine)  # never computed before: a full run
    assert first.agent_days == 2
    before = agent_days(engine)
    # A late change to Ana's 10 March contact, and a new contact for her on 12 March.
    ingest.write_page("all", [contact(1, at(9, 0), 700), contact(3, at(9, 0, day=date(2026, 3, 12)), 50)])
    second = run_compute(engine)
    after = agent_days(engine)
    assert second.agents == 1  # only Ana was touched
    assert after[("a", DAY)].handle_seconds == 700
    assert after[("a", date(2026, 3, 12))].handle_seconds == 50
    assert after[("b", date(2026, 3, 11))].computed_at == before[("b", date(2026, 3, 11))].computed_at
    # Nothing synced since: nothing rebuilt.
    assert run_compute(engine).agents == 0


def test_rating_synced_later_touches_the_contact_day(engine, monkeypatch):
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    ingest = Ingestor(engine, "t")
    ingest.write_page("all", [AgentRecord("a", "Ana"), contact(1, at(9, 0), 100)])
    run_compute(engine)
    assert agent_days(engine)[("a", DAY)].hard_contacts == 0
    ingest.write_page("ratings", [CsatRecord("r1", "c1", 1, at(20, 0, day=date(2026, 3, 14)), "a")])
    run_compute(engine)
    assert agent_days(engine)[("a", DAY)].hard_contacts == 1


def test_since_rebuilds_from_that_day_and_keeps_earlier_days(engine):
    ingest = Ingestor(engine, "t")
    ingest.write_page("all", [AgentRecord("a", "Ana"), contact(1, at(9, 0, day=date(2026, 3, 1)), 100)])
    run_compute(engine, full=True)
    kept = agent_days(engine)[("a", date(2026, 3, 1))].computed_at
    ingest.write_page("all", [contact(2, at(9, 0, day=date(2026, 3, 5)), 100)])
    result = run_compute(engine, since=date(2026, 3, 4))
    days = agent_days(engine)
    assert result.agent_days == 1
    assert days[("a", date(2026, 3, 1))].computed_at == kept
    assert days[("a", date(2026, 3, 5))].handle_seconds == 100


def test_thresholds_come_from_settings(engine, monkeypatch):
    monkeypatch.setenv("AX_BACK_TO_BACK_SECONDS", "20")
    monkeypatch.setenv("AX_BREAK_MIN_MINUTES", "2")
    reset_settings()
    Ingestor(engine, "t").write_page("all", one_day_records())
    run_compute(engine, full=True)
    day = agent_days(engine)[("a", DAY)]
    assert day.back_to_back == 2  # only c6 (gap 0) and c7 (overlap) are within 20 s
    assert day.longest_stretch_seconds == 3600  # the 3-minute pause now counts as a break
