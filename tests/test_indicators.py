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
from db.models import Agent, AgentDay, AgentRisk, Contact, TeamDay
from db.records import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    DeletionRecord,
    MembershipRecord,
    StatusIntervalRecord,
    TeamRecord,
)

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


def test_a_page_sent_again_unchanged_rebuilds_nothing(engine, monkeypatch):
    """Connectors send their last page again on every sync: rows that come back the same keep
    their synced_at, so the compute leaves their days alone; a row that did change is rebuilt."""
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    ingest = Ingestor(engine, "t")
    page = [
        AgentRecord("a", "Ana"),
        AgentRecord("b", "Bo"),
        contact(1, at(9, 0), 100),
        contact(2, at(9, 0), 100, agent="b", sentiment=0.2),
        status(1, "online", at(8, 0), at(12, 0)),
    ]
    ingest.write_page("all", page)
    run_compute(engine)
    with engine.connect() as conn:
        stamps = conn.execute(select(Contact.external_id, Contact.synced_at)).all()
    ingest.write_page("all", page)
    ingest.write_page("all", [DeletionRecord("contact", "c9")])  # not stored: nothing to delete
    with engine.connect() as conn:
        assert conn.execute(select(Contact.external_id, Contact.synced_at)).all() == stamps
    assert run_compute(engine).agents == 0
    # Bo's contact comes back with one field different: only Bo is rebuilt.
    ingest.write_page("all", [*page[:3], contact(2, at(9, 0), 100, agent="b", sentiment=-0.9)])
    again = run_compute(engine)
    assert again.agents == 1
    assert agent_days(engine)[("b", DAY)].hard_contacts == 1
    # Deleting a contact twice changes it once.
    ingest.write_page("all", [DeletionRecord("contact", "c2")])
    assert run_compute(engine).agents == 1
    ingest.write_page("all", [DeletionRecord("contact", "c2")])
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


def _rounded(value):
    # Floats to 12 significant digits: a moving average over a window that starts elsewhere adds
    # and removes its values in another order (SQLite), which moves the last bits.
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _computed(engine) -> tuple[dict, dict]:
    """Every stored agent-day and risk level, keyed by (agent, day), without when it was computed."""
    with engine.connect() as conn:
        days = {
            (row.agent_id, row.day): {name: _rounded(value) for name, value in row._mapping.items()}
            for row in conn.execute(select(*(c for c in AgentDay.__table__.c if c.name != "computed_at")))
        }
        risks = {
            (row.agent_id, row.day): dict(row._mapping)
            for row in conn.execute(select(*(c for c in AgentRisk.__table__.c if c.name != "computed_at")))
        }
    return days, risks


def _long_history(agent: str, first_id: int = 0) -> list:
    """40 days in a row, a 45-day leave, then 7 more days: handle times, hard contacts, statuses."""
    start = date(2026, 1, 1)
    worked = [*range(40), *range(85, 92)]
    records: list = []
    for i in worked:
        day = start + timedelta(days=i)
        records += [
            status(i, "available", at(9, 0, day=day), at(12 + i % 4, 0, day=day), agent=agent),
            contact(
                first_id + 1000 + i, at(9, 5, day=day), 200 + (i * 37) % 400, agent=agent, csat=1 + i % 5
            ),
            contact(first_id + 2000 + i, at(10, 0, day=day), 300, agent=agent, escalated=i % 3 == 0),
        ]
    return records


def test_a_rebuild_from_any_day_gives_what_a_full_run_gives(engine):
    """Rebuilding from ``since`` reads only the 28 working days before it (baselines), the 4 working
    days and 6 calendar days before it (risk), and continues days in a row from the stored count:
    the result must be the full run's, whatever lies before (here a run of 40 days, and a leave
    longer than any calendar look-back)."""
    Ingestor(engine, "t").write_page("all", [AgentRecord("p", "Pia"), *_long_history("p")])
    run_compute(engine, full=True)
    full_days, full_risks = _computed(engine)
    by_day = {day: row for (_, day), row in full_days.items()}
    assert by_day[date(2026, 2, 9)]["consecutive_days"] == 40
    assert by_day[date(2026, 3, 31)]["consecutive_days"] == 5
    assert by_day[date(2026, 3, 31)]["aht_dev"] is not None  # 28 working days before it, across the leave
    for since in (date(2026, 2, 5), date(2026, 3, 29), date(2026, 3, 31)):
        run_compute(engine, since=since)
        assert _computed(engine) == (full_days, full_risks), since


def test_an_agent_whose_timezone_changes_gets_new_local_days(engine, monkeypatch):
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    ingest = Ingestor(engine, "t")
    # The contact arrives before the agent's record: the agent is a placeholder, in UTC.
    ingest.write_page("activity", [contact(1, at(3, 0), 400, agent="tz")])
    run_compute(engine)
    assert set(agent_days(engine)) == {("tz", DAY)}
    # 03:00 UTC on 10 March is 23:00 on 9 March in New York: the work moves to the 9th.
    ingest.write_page("directory", [AgentRecord("tz", "Tia", timezone="America/New_York")])
    run_compute(engine)
    days = agent_days(engine)
    assert set(days) == {("tz", date(2026, 3, 9))}
    assert days[("tz", date(2026, 3, 9))].handle_seconds == 400


def test_a_rating_before_its_contact_counts_and_a_deleted_rating_stops_counting(engine, monkeypatch):
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    ingest = Ingestor(engine, "t")
    ingest.write_page("ratings", [AgentRecord("a", "Ana"), CsatRecord("r1", "c1", 1, at(20, 0), "a")])
    ingest.write_page("contacts", [contact(1, at(9, 0), 100)])
    run_compute(engine)
    day = agent_days(engine)[("a", DAY)]
    assert (day.hard_contacts, day.csat_sum, day.csat_count) == (1, 1, 1)
    ingest.write_page("ratings", [DeletionRecord("csat_rating", "r1")])
    run_compute(engine)
    day = agent_days(engine)[("a", DAY)]
    assert (day.hard_contacts, day.csat_sum, day.csat_count) == (0, 0, 0)


def test_work_spans_are_whole_seconds_rounded_down_on_both_back_ends(engine):
    """A start at …:59.9999 is that second, not the next: back-to-back is judged on whole seconds."""
    start = at(9, 0) + timedelta(seconds=59, microseconds=999_900)
    Ingestor(engine, "t").write_page(
        "all",
        [
            AgentRecord("a", "Ana"),
            contact(1, at(9, 0), 59),  # 09:00:00-09:00:59
            contact(2, start + timedelta(seconds=60), 10),  # starts 09:01:59.9999: 60 s after c1 ended
        ],
    )
    run_compute(engine, full=True)
    assert agent_days(engine)[("a", DAY)].back_to_back == 1


def _team_days(engine) -> dict:
    with engine.connect() as conn:
        table = TeamDay.__table__
        columns = [c for c in table.c if c.name != "computed_at"]
        return {(row.team_id, row.day): tuple(map(_rounded, row)) for row in conn.execute(select(*columns))}


def _after_each_step_incremental_equals_full(engine, steps: list[list]) -> None:
    """Write each page, run an incremental compute, and check it left what a full run leaves."""
    ingest = Ingestor(engine, "t")
    for n, page in enumerate(steps):
        ingest.write_page("all", page)
        run_compute(engine)
        incremental = (*_computed(engine), _team_days(engine))
        run_compute(engine, full=True)
        assert incremental == (*_computed(engine), _team_days(engine)), f"step {n}"


def test_incremental_runs_follow_work_that_moves_to_another_agent_or_day(engine, monkeypatch):
    """Synced rows show where work is now; where it was (another agent, another day) must be
    rebuilt too, or the old agent-day keeps counting it."""
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    day2 = DAY + timedelta(days=1)
    history = _long_history("a")[-9:] + _long_history("b", first_id=5000)[-9:]  # three worked days each
    last = date(2026, 1, 1) + timedelta(days=91)
    first_day = [
        TeamRecord("t1", "One"),
        AgentRecord("a", "Ana"),
        AgentRecord("b", "Bo"),
        MembershipRecord("t1", "a"),
        MembershipRecord("t1", "b"),
        *history,
        contact(1, at(9, 0, day=last), 300, agent="a", csat=1),
        contact(2, at(10, 0, day=last), 300, agent="a"),
        status(90, "available", at(9, 0, day=last), at(11, 0, day=last), agent="a"),
    ]
    created = at(9, 0, day=last) - timedelta(minutes=1)
    steps = [
        first_day,
        # c1 handed to Bo: Ana's day loses it
        [contact(1, at(9, 0, day=last), 300, agent="b", csat=1)],
        # c2 first answered only the next day: its work moves to the next day
        [
            ContactRecord(
                "c2",
                "phone",
                created,
                agent_external_id="a",
                first_response_at=at(9, 0, day=last + timedelta(days=1)),
                handle_seconds=300,
            )
        ],
        # a status interval handed to Bo, then deleted
        [StatusIntervalRecord("sa90", "b", "available", at(9, 0, day=last), at(11, 0, day=last))],
        [DeletionRecord("agent_status_interval", "sa90")],
        # a rating for c2 after the fact, moved to c1, then deleted; c1 deleted
        [CsatRecord("r1", "c2", 1, at(20, 0, day=last), "a")],
        [CsatRecord("r1", "c1", 1, at(20, 0, day=last), "b")],
        [DeletionRecord("csat_rating", "r1"), contact(3, at(9, 0, day=day2), 60, agent="b")],
        [DeletionRecord("contact", "c1")],
    ]
    _after_each_step_incremental_equals_full(engine, steps)


def test_incremental_runs_follow_an_agent_whose_timezone_changes(engine, monkeypatch):
    """11:00 UTC is the same day in UTC, the next day at UTC+14 and 23:00 the day before at
    UTC−12: each change removes days that no longer exist and fills the new ones."""
    monkeypatch.setattr("ax.compute.WATERMARK_MARGIN", timedelta(0))
    activity = [
        contact(1, at(11, 0), 300),
        contact(2, at(11, 0, day=DAY + timedelta(days=3)), 300, csat=2),
        status(1, "available", at(10, 30), at(12, 0)),
    ]
    steps = [
        [AgentRecord("a", "Ana"), *activity],
        [AgentRecord("a", "Ana", timezone="Pacific/Kiritimati")],
        [AgentRecord("a", "Ana", timezone="Etc/GMT+12")],
    ]
    _after_each_step_incremental_equals_full(engine, steps)
    days = {day for (_, day) in agent_days(engine)}
    assert days == {DAY - timedelta(days=1), DAY + timedelta(days=2)}
