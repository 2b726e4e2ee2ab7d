"""Break planner: hand-built teams whose forecasts are worked out here with the indicators.md formulas.

The expected service levels use the textbook Erlang C sum (A^N/N! terms), not ax.erlang's
recursion, so a slip in either shows. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.accounts import viewer_for
from ax.breaks import (
    BreakError,
    cancel_break,
    decide_request,
    live_queue,
    my_breaks,
    plan_breaks,
    request_break,
    respond_to_break,
    schedule_break,
    team_breaks,
)
from ax.erlang import required_agents
from ax.settings import reset_settings
from db.ingest import Ingestor
from db.models import Agent, AgentDay, AuditEvent, Break, LeadTeam, Role, Team, User
from db.records import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    MembershipRecord,
    QueueSnapshotRecord,
    StatusIntervalRecord,
    TeamRecord,
)

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
SYNCED = NOW - timedelta(minutes=2)  # connectors close the current status interval at sync time


def m(minutes: float) -> datetime:
    """``minutes`` from NOW (negative: before)."""
    return NOW + timedelta(minutes=minutes)


def sl_by_hand(traffic: float, agents: int, aht: float, t: float = 20) -> float:
    """indicators.md: C from the A^N/N! sums, SL(t) = 1 − C·exp(−(N − A)·t ÷ AHT); N ≤ A → 0."""
    if agents <= traffic:
        return 0.0
    below = sum(traffic**k / math.factorial(k) for k in range(agents))
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    waiting = top / (below + top)
    return 1 - waiting * math.exp(-(agents - traffic) * t / aht)


def ext(n: int) -> str:
    return f"a{n:02d}"


def directory(team_a: int) -> list:
    """Team A with agents a01…aNN, team B with b1."""
    records: list = [TeamRecord("A", "Team A"), TeamRecord("B", "Team B"), AgentRecord("b1", "Bea")]
    records.append(MembershipRecord("B", "b1"))
    for n in range(1, team_a + 1):
        records += [AgentRecord(ext(n), f"Agent {n:02d}"), MembershipRecord("A", ext(n))]
    return records


def on_queue(agent: str, start: datetime, end: datetime = SYNCED, status: str = "available"):
    return StatusIntervalRecord(f"{agent}-{status}-{start:%H%M}", agent, status, start, end)


def arrivals(count: int, handle: int, channel: str = "phone", agents: int = 14, tag: str = "c") -> list:
    """``count`` live contacts spread evenly over the hour before NOW, each handled in ``handle`` s."""
    step = 3600 / count
    return [
        ContactRecord(
            f"{tag}{i}",
            channel,
            m(-60) + timedelta(seconds=i * step),
            agent_external_id=ext(i % agents + 1),
            team_external_id="A",
            first_response_at=m(-60) + timedelta(seconds=i * step + 10),
            handle_seconds=handle,
        )
        for i in range(count)
    ]


def load(engine: Engine, records: list) -> dict[str, int]:
    Ingestor(engine, "t").write_page("all", records)
    with Session(engine) as session:
        return {a.external_id: a.id for a in session.exec(select(Agent)).all()}


def teams(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {t.external_id: t.id for t in session.exec(select(Team)).all()}


def accounts(engine: Engine) -> dict[str, Viewer]:
    """A lead of team A, a lead of team B, HR, and agent accounts for a01, a02 and b1.

    Rows are written directly (no password): Argon2 hashing would cost most of each test's time.
    """
    ids = load(engine, [])
    team = teams(engine)
    specs = [("lead", Role.lead, None), ("leadb", Role.lead, None), ("hr", Role.hr, None)]
    specs += [(a, Role.agent, ids[a]) for a in ("a01", "a02", "b1") if a in ids]
    with Session(engine) as session:
        users = [User(username=u, display_name=u, role=r.value, agent_id=a) for u, r, a in specs]
        session.add_all(users)
        session.flush()
        session.add_all(
            [
                LeadTeam(user_id=users[0].id, team_id=team["A"]),
                LeadTeam(user_id=users[1].id, team_id=team["B"]),
            ]
        )
        session.commit()
        return {u.username: viewer_for(session, u) for u in users}


def queue_team(engine: Engine, on: int, members: int = 15, extra: list | None = None) -> None:
    """Team A: ``on`` agents on the queue since 08:00, the rest away; 200 calls of 180 s last hour."""
    records = directory(members)
    for n in range(1, members + 1):
        status = "available" if n <= on else "away"
        records.append(on_queue(ext(n), m(-120), status=status))
    load(engine, records + arrivals(200, 180) + (extra or []))


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.exec(query).all())


# --- the worked example ------------------------------------------------------------------------


def test_worked_example_fourteen_agents_no_break_is_safe(engine: Engine) -> None:
    """100 calls per 30 min at AHT 3 min: 14 agents give 88.8%, 13 only 79.6% — below 80%."""
    queue_team(engine, on=14)
    v = accounts(engine)
    with Session(engine) as session:
        live = live_queue(session, v["lead"], teams(engine)["A"], NOW)
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    # λ = 200 per hour (100 per 30 min), AHT 180 s: A = 200 × 180 ÷ 3600 = 10 Erlangs
    assert live.arrivals_per_hour.value == pytest.approx(200)
    assert live.aht_seconds.value == pytest.approx(180)
    assert live.traffic == pytest.approx(10)
    assert live.agents_available.value == 14 and live.agents_available.as_of == SYNCED
    with14, with13 = sl_by_hand(10, 14, 180), sl_by_hand(10, 13, 180)
    assert with14 == pytest.approx(0.8884, abs=1e-4) and with13 == pytest.approx(0.7956, abs=1e-4)
    # the same example staffed by required_agents needs exactly 14: nobody to spare
    assert required_agents(arrivals=100, interval_seconds=1800, aht=180).agents == 14
    assert plan.service_level_now == pytest.approx(with14)
    assert plan.spare_agents == 0
    assert [c.agent_id for c in plan.candidates] and len(plan.candidates) == 14
    for candidate in plan.candidates:
        assert candidate.longest_safe_minutes is None
        for option in candidate.options:
            assert option.service_level_without_break == pytest.approx(with14)
            assert option.service_level_with_break == pytest.approx(with13)
            assert option.occupancy_with_break == pytest.approx(10 / 13)
            assert not option.safe and option.earliest_safe_start is None
            assert "79.6%" in option.why and "target 80.0% in 20 s" in option.why


def test_worked_example_fifteen_agents_one_can_go(engine: Engine) -> None:
    """With 15 on the queue one agent may leave (14 → 88.8%), but not two (13 → 79.6%)."""
    queue_team(engine, on=15)
    v = accounts(engine)
    with Session(engine) as session:
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    assert plan.service_level_now == pytest.approx(sl_by_hand(10, 15, 180))
    assert plan.spare_agents == 1
    assert len(plan.candidates) == 15
    for candidate in plan.candidates:
        assert candidate.longest_safe_minutes == 15
        best = candidate.longest_safe
        assert best is not None and best.safe and best.earliest_safe_start == NOW
        assert best.service_level_with_break == pytest.approx(sl_by_hand(10, 14, 180))
        assert best.service_level_without_break == pytest.approx(sl_by_hand(10, 15, 180))
        assert candidate.why.startswith("Can take up to 15 min now")


def test_a_planned_break_lowers_n_for_its_window(engine: Engine) -> None:
    """15 on the queue; a15's break 10:07–10:17 leaves room for 5 min now, not 10 (until 10:17)."""
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    team_a = teams(engine)["A"]
    with Session(engine) as session:
        planned = schedule_break(session, v["lead"], ids["a15"], m(7), 10, "after the 10:00 rush", now=NOW)
        plan = plan_breaks(session, v["lead"], team_a, NOW)
    by_agent = {c.agent_id: c for c in plan.candidates}
    a01 = {o.minutes: o for o in by_agent[ids["a01"]].options}
    # 10:00–10:05: no other break → 14 answer: 88.8%, safe
    assert a01[5].other_breaks == 0 and a01[5].safe
    assert a01[5].service_level_with_break == pytest.approx(sl_by_hand(10, 14, 180))
    # 10:00–10:10 overlaps a15's break → 15 − 1 − 1 = 13 answer: 79.6%, not safe until it ends
    assert a01[10].other_breaks == 1 and not a01[10].safe
    assert a01[10].service_level_without_break == pytest.approx(sl_by_hand(10, 14, 180))
    assert a01[10].service_level_with_break == pytest.approx(sl_by_hand(10, 13, 180))
    assert a01[10].earliest_safe_start == m(17) and "Safe from 10:17" in a01[10].why
    assert "1 other break in this window" in a01[10].why
    assert by_agent[ids["a01"]].longest_safe_minutes == 5
    # a15 is still on the queue until 10:07: 5 min now fits, 10 min would overlap their own break
    a15 = {o.minutes: o for o in by_agent[ids["a15"]].options}
    assert a15[5].safe and not a15[10].safe and "Overlaps their break planned at 10:07" in a15[10].why
    assert plan.spare_agents == 1  # the 5-minute window is still free

    with Session(engine) as session:
        cancel_break(session, v["lead"], planned.id, now=NOW)
        again = plan_breaks(session, v["lead"], team_a, NOW)
    a01_again = next(c for c in again.candidates if c.agent_id == ids["a01"])
    assert a01_again.longest_safe_minutes == 15  # a cancelled break no longer takes anyone off
    assert len(audits(engine, "break_cancelled")) == 1


def test_an_accepted_break_in_progress_takes_its_agent_out_of_the_candidates(engine: Engine) -> None:
    """a02 accepted a break that started at 09:58 while status still says on-queue: not a candidate."""
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    with Session(engine) as session:
        session.add(Break(agent_id=ids["a02"], starts_at=m(-2), ends_at=m(8), status="accepted"))
        session.commit()
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    assert ids["a02"] not in {c.agent_id for c in plan.candidates}
    assert len(plan.candidates) == 14
    # 15 on the queue, a02 leaving: a further 5-min break leaves 13 → 79.6% → not safe before 10:08
    option = plan.candidates[0].options[0]
    assert option.other_breaks == 1 and not option.safe and option.earliest_safe_start == m(8)
    assert plan.spare_agents == 0


# --- chat concurrency and load readings ----------------------------------------------------------


def _chat_team(engine: Engine, concurrency: list[float] | None) -> None:
    """14 on the queue, 120 chats in the last hour of 600 s each; today's concurrency per agent."""
    records = directory(14) + [on_queue(ext(n), m(-120)) for n in range(1, 15)]
    ids = load(engine, records + arrivals(120, 600, channel="chat"))
    if concurrency:
        with Session(engine) as session:
            for n, value in enumerate(concurrency, start=1):
                session.add(
                    AgentDay(agent_id=ids[ext(n)], day=NOW.date(), chat_concurrency=value, computed_at=m(-5))
                )
            session.commit()


@pytest.mark.parametrize(
    ("concurrency", "aht", "traffic"),
    [([1.5, 2.5, 2.0, 2.0], 300, 10), (None, 600, 20)],
    ids=["two-at-once", "unknown"],
)
def test_chat_concurrency_lowers_traffic(engine: Engine, concurrency, aht: float, traffic: float) -> None:
    """Agents on two chats at once: AHT 600 ÷ 2 = 300 s, A = 120 × 300 ÷ 3600 = 10 (not 20) Erlangs."""
    _chat_team(engine, concurrency)
    v = accounts(engine)
    with Session(engine) as session:
        live = live_queue(session, v["lead"], teams(engine)["A"], NOW)
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    assert live.aht_seconds.value == pytest.approx(aht)
    assert live.traffic == pytest.approx(traffic)
    assert plan.service_level_now == pytest.approx(sl_by_hand(traffic, 14, aht))
    if concurrency:
        assert live.chat_concurrency.value == pytest.approx(2.0) and live.chat_concurrency.as_of == m(-5)
        assert "120 chats at 2.00 at once" in live.aht_seconds.note
        # 14 agents for 10 Erlangs at AHT 300: 86.7%; 13 → below 80% → no break now
        assert plan.service_level_now == pytest.approx(0.8666, abs=1e-4)
    else:
        assert live.chat_concurrency.value is None
        assert "chats counted one at a time" in live.chat_concurrency.note
        # 20 Erlangs on 14 agents: the queue grows without limit
        assert plan.service_level_now == 0.0
        assert "grow without limit" in plan.candidates[0].options[0].why
    assert all(c.longest_safe_minutes is None for c in plan.candidates)


def test_missing_data_is_none_with_a_reason(engine: Engine) -> None:
    """No contacts, no status, no snapshots: every reading None with why, no candidates, no forecast."""
    load(engine, directory(3))
    v = accounts(engine)
    team_a = teams(engine)["A"]
    with Session(engine) as session:
        live = live_queue(session, v["lead"], team_a, NOW)
        plan = plan_breaks(session, v["lead"], team_a, NOW)
    assert live.arrivals_per_hour.value is None and "no live contacts" in live.arrivals_per_hour.note
    assert live.aht_seconds.value is None and "no handled live contacts" in live.aht_seconds.note
    assert live.agents_available.value is None and "no queue snapshots" in live.agents_available.note
    assert live.waiting.value is None and live.longest_wait_seconds.value is None
    assert live.traffic is None and len(live.missing) == 3
    assert plan.service_level_now is None and plan.spare_agents is None and plan.candidates == []
    assert any("no fresh status intervals" in note for note in plan.notes)

    # a stale snapshot says so; fresh ones of two queues give waiting summed, longest wait the max
    load(engine, [QueueSnapshotRecord("s0", "phone", m(-45), 9, 300, 10, 4, "A")])
    with Session(engine) as session:
        stale = live_queue(session, v["lead"], team_a, NOW)
    assert stale.waiting.value is None and "older than 30 min" in stale.waiting.note
    load(
        engine,
        [
            QueueSnapshotRecord("s1", "phone", m(-10), 2, 40, 9, 3, "A"),
            QueueSnapshotRecord("s2", "phone", m(-4), 3, 45, 10, 2, "A"),
            QueueSnapshotRecord("s3", "chat", m(-6), 1, 90, 4, 1, "A"),
        ],
    )
    with Session(engine) as session:
        fresh = live_queue(session, v["lead"], team_a, NOW)
    assert fresh.waiting.value == 4 and fresh.longest_wait_seconds.value == 90
    assert fresh.agents_available.value == 10 and fresh.agents_available.as_of == m(-6)
    assert fresh.arrivals_per_hour.value is None  # still unknown: snapshots carry no arrivals


def test_aht_widens_to_four_hours_when_the_last_hour_has_few_timed_contacts(engine: Engine) -> None:
    """3 timed calls of 300 s in the last hour and 9 of 200 s before: AHT over all 12 is 225 s."""
    early = [
        ContactRecord(
            f"e{i}", "phone", m(-150 + i), agent_external_id="a01", team_external_id="A", handle_seconds=200
        )
        for i in range(9)
    ]
    late = [
        ContactRecord(
            f"l{i}", "phone", m(-30 + i), agent_external_id="a01", team_external_id="A", handle_seconds=300
        )
        for i in range(3)
    ]
    untimed = [ContactRecord("open", "phone", m(-1), team_external_id="A")]  # still waiting: no handle
    load(engine, directory(2) + early + late + untimed)
    v = accounts(engine)
    with Session(engine) as session:
        live = live_queue(session, v["hr"], teams(engine)["A"], NOW)  # HR may see a team's aggregates
    assert live.aht_seconds.value == pytest.approx((9 * 200 + 3 * 300) / 12)
    assert "in the last 240 min" in live.aht_seconds.note
    assert live.arrivals_per_hour.value == pytest.approx(4)  # 3 timed + 1 waiting arrived in the hour
    assert live.arrivals_per_hour.as_of == m(-1)


# --- ranking by recovery need --------------------------------------------------------------------


def _ranking_team(engine: Engine) -> dict[str, int]:
    records = [
        *directory(6),
        # a01: break 09:15–09:30, on the queue since: 30 min
        on_queue("a01", m(-120), m(-45)),
        on_queue("a01", m(-45), m(-30), "break"),
        on_queue("a01", m(-30)),
        # a02: since 07:30 with a 3-minute pause at 08:30 (shorter than 5 min: not a break): 150 min
        on_queue("a02", m(-150), m(-90)),
        on_queue("a02", m(-90), m(-87), "away"),
        on_queue("a02", m(-87), m(-40), "busy"),
        on_queue("a02", m(-40)),
        # a03: break 08:45–09:00, 60 min since, 5 hard contacts since and one before the break
        on_queue("a03", m(-180), m(-75)),
        on_queue("a03", m(-75), m(-60), "break"),
        on_queue("a03", m(-60)),
        # a04: 60 min since a break, no agent_day yet (occupancy unknown)
        on_queue("a04", m(-60)),
        # a05 is on a break right now; a06 is on the queue but has an accepted break running
        on_queue("a05", m(-120), m(-10)),
        on_queue("a05", m(-10), SYNCED, "break"),
        on_queue("a06", m(-120)),
    ]

    def hard(n: int, start: datetime, **kw) -> ContactRecord:
        return ContactRecord(
            f"h{n}",
            "email",
            start - timedelta(minutes=5),
            agent_external_id="a03",
            first_response_at=start,
            **kw,
        )

    records += [
        hard(0, m(-90), csat=1),  # before the break: does not count
        hard(1, m(-55), csat=1),
        hard(2, m(-50), sentiment=-0.8),
        hard(3, m(-40), escalated=True),
        hard(4, m(-30)),  # hard through its rating below
        CsatRecord("r4", "h4", 2, m(-20), "a03"),
        hard(5, m(-20), csat=2),
        hard(6, m(-10), csat=4, sentiment=0.2),  # fine
        hard(7, m(-5), sentiment=-0.4),  # not negative enough (≤ −0.5 is hard)
    ]
    ids = load(engine, records)
    with Session(engine) as session:
        for agent, occupancy in (("a01", 0.90), ("a02", 0.45), ("a03", 0.72)):
            session.add(AgentDay(agent_id=ids[agent], day=NOW.date(), occupancy=occupancy, computed_at=m(-5)))
        session.add(Break(agent_id=ids["a06"], starts_at=m(-1), ends_at=m(9), status="accepted"))
        session.commit()
    return ids


def test_candidates_are_ranked_by_recovery_need(engine: Engine) -> None:
    """score = min(since ÷ 120 min, 2) + min(hard ÷ 5, 2) + min(occupancy ÷ 0.90, 2), unknown adds 0."""
    ids = _ranking_team(engine)
    v = accounts(engine)
    with Session(engine) as session:
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    expected = {
        "a03": 60 / 120 + 5 / 5 + 0.72 / 0.90,  # 2.3
        "a02": 150 / 120 + 0 + 0.45 / 0.90,  # 1.75
        "a01": 30 / 120 + 0 + 0.90 / 0.90,  # 1.25
        "a04": 60 / 120,  # 0.5, occupancy unknown
    }
    assert [c.agent_id for c in plan.candidates] == [ids[a] for a in expected]  # a05, a06 are on break
    assert [c.rank for c in plan.candidates] == [1, 2, 3, 4]
    for candidate, score in zip(plan.candidates, expected.values(), strict=True):
        assert candidate.score == pytest.approx(score, abs=1e-3)
    a03, a02, a01, a04 = plan.candidates
    assert (a03.minutes_since_break, a03.hard_since_break, a03.occupancy_today) == (60, 5, 0.72)
    assert a02.minutes_since_break == 150 and a01.minutes_since_break == 30
    assert "5 hard contacts since" in a03.need and "occupancy today 72%" in a03.need
    assert "2 h 30 min on the queue without a break (due at 2 h)" in a02.need
    assert "1 h on the queue without a break" in a03.need and "30 min on the queue" in a01.need
    assert a04.occupancy_today is None and "occupancy today not computed yet" in a04.need
    # the hard contacts are e-mails, not live contacts: no arrival rate, so no forecast (None, with why)
    assert all(not o.safe and o.service_level_with_break is None for c in plan.candidates for o in c.options)
    assert a03.why.startswith("Cannot forecast")


def test_a_hard_contact_counts_by_when_its_work_started_however_long_it_waited(engine: Engine) -> None:
    """Created 20 h before the stretch began but first answered inside it: it counts; one answered
    just before the break does not."""
    records = [
        *directory(1),
        on_queue("a01", m(-120), m(-75)),
        on_queue("a01", m(-75), m(-60), "break"),
        on_queue("a01", m(-60)),
        *(
            ContactRecord(ext, "email", m(-1200), agent_external_id="a01", first_response_at=m(at), csat=1)
            for ext, at in (("old", -30), ("before", -80))
        ),
    ]
    load(engine, records)
    v = accounts(engine)
    with Session(engine) as session:
        (candidate,) = plan_breaks(session, v["lead"], teams(engine)["A"], NOW).candidates
    assert candidate.hard_since_break == 1
    assert "1 hard contact since" in candidate.need


def test_team_only_privacy_keeps_the_order_and_withholds_the_numbers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _ranking_team(engine)
    monkeypatch.setenv("AX_PRIVACY_PROFILE", "team_only")
    reset_settings()
    v = accounts(engine)
    with Session(engine) as session:
        plan = plan_breaks(session, v["lead"], teams(engine)["A"], NOW)
    assert [c.agent_id for c in plan.candidates] == [ids[a] for a in ("a03", "a02", "a01", "a04")]
    for candidate in plan.candidates:
        assert candidate.minutes_since_break is None and candidate.hard_since_break is None
        assert candidate.occupancy_today is None and "withheld" in candidate.need


# --- scheduling, answers, requests ---------------------------------------------------------------


def test_schedule_refuses_past_too_long_too_short_and_overlapping_breaks(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    a01 = ids["a01"]
    with Session(engine) as session:
        with pytest.raises(BreakError, match="in the past"):
            schedule_break(session, v["lead"], a01, m(-10), 10, None, now=NOW)
        with pytest.raises(BreakError, match="at most 30 min"):
            schedule_break(session, v["lead"], a01, m(5), 45, None, now=NOW)
        with pytest.raises(BreakError, match="at least 5 min"):
            schedule_break(session, v["lead"], a01, m(5), 2, None, now=NOW)
        with pytest.raises(BreakError, match="at most 24 h ahead"):
            schedule_break(session, v["lead"], a01, m(25 * 60), 10, None, now=NOW)
        first = schedule_break(session, v["lead"], a01, m(20), 10, "stretch your legs", now=NOW)
        with pytest.raises(BreakError, match="Overlaps the planned break 10:20–10:30"):
            schedule_break(session, v["lead"], a01, m(25), 10, None, now=NOW)
        back_to_back = schedule_break(session, v["lead"], a01, m(30), 5, None, now=NOW)  # touching is fine
        now_ish = schedule_break(session, v["lead"], ids["a02"], m(-0.5), 5, None, now=NOW)
    assert (first.status, first.minutes, first.requested_by_agent) == ("planned", 10, False)
    assert back_to_back.starts_at == m(30)
    assert now_ish.starts_at == NOW  # "now" a moment late is now
    with Session(engine) as session:
        assert len(session.exec(select(Break)).all()) == 3
    scheduled = audits(engine, "break_scheduled")
    assert len(scheduled) == 3
    assert "stretch your legs" not in (scheduled[0].details or "")  # free text stays out of the audit


def test_agent_sees_a_planned_break_at_once_and_answers_it(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    with Session(engine) as session:
        brk = schedule_break(session, v["lead"], ids["a01"], m(10), 10, "quiet spell", now=NOW)
        mine = my_breaks(session, v["a01"], now=NOW)
        assert [(b.id, b.status, b.note) for b in mine] == [(brk.id, "planned", "quiet spell")]
        assert my_breaks(session, v["a02"], now=NOW) == []  # nobody else's
        accepted = respond_to_break(session, v["a01"], brk.id, True, now=NOW)
        assert accepted.status == "accepted"
        with pytest.raises(BreakError, match="accepted"):
            respond_to_break(session, v["a01"], brk.id, False, now=NOW)
        assert [b.status for b in my_breaks(session, v["a01"], now=NOW)] == ["accepted"]
    event = audits(engine, "break_accepted")[0]
    assert event.username == "a01" and json.loads(event.details or "{}")["previous"] == "planned"


def test_request_then_lead_approves_then_agent_sees_it_accepted(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    team_a = teams(engine)["A"]
    with Session(engine) as session:
        asked = request_break(session, v["a02"], 10, "rough call", now=NOW)
        assert (asked.status, asked.starts_at, asked.requested_by_agent) == ("requested", NOW, True)
        listed = team_breaks(session, v["lead"], team_a, NOW.date())
        assert [(b.id, b.agent_id, b.status) for b in listed] == [(asked.id, ids["a02"], "requested")]
        with pytest.raises(AccessDenied):
            decide_request(session, v["leadb"], asked.id, True, now=NOW)  # not their team
        approved = decide_request(session, v["lead"], asked.id, True, now=NOW)
        assert approved.status == "accepted"
        with pytest.raises(BreakError, match="not a pending request"):
            decide_request(session, v["lead"], asked.id, False, now=NOW)
        mine = my_breaks(session, v["a02"], now=NOW)
        assert [(b.id, b.status, b.requested_by_agent) for b in mine] == [(asked.id, "accepted", True)]
        # an approved request takes a02 off for 10:00–10:10: a02 is no longer a candidate
        plan = plan_breaks(session, v["lead"], team_a, NOW)
        assert ids["a02"] not in {c.agent_id for c in plan.candidates}
        # a second request over the same time is refused
        with pytest.raises(BreakError, match="Overlaps the accepted break 10:00–10:10"):
            request_break(session, v["a02"], 5, None, starts_at=m(5), now=NOW)
    assert len(audits(engine, "break_requested")) == 1
    assert len(audits(engine, "break_request_approved")) == 1


# --- access --------------------------------------------------------------------------------------


def test_agents_cannot_schedule_or_plan(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    with Session(engine) as session:
        with pytest.raises(AccessDenied):
            schedule_break(session, v["a01"], ids["a01"], m(5), 10, None, now=NOW)
        with pytest.raises(AccessDenied):
            plan_breaks(session, v["a01"], teams(engine)["A"], NOW)
        with pytest.raises(AccessDenied):
            plan_breaks(session, v["hr"], teams(engine)["A"], NOW)  # names agents: leads only
        assert session.exec(select(Break)).all() == []
    refused = audits(engine, "access_denied")
    assert [e.username for e in refused] == ["a01", "a01", "hr"]


def test_a_lead_of_another_team_is_refused_and_audited(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    team_a = teams(engine)["A"]
    with Session(engine) as session:
        with pytest.raises(AccessDenied):
            schedule_break(session, v["leadb"], ids["a01"], m(5), 10, None, now=NOW)
        with pytest.raises(AccessDenied):
            plan_breaks(session, v["leadb"], team_a, NOW)
        with pytest.raises(AccessDenied):
            team_breaks(session, v["leadb"], team_a, NOW.date())
        with pytest.raises(AccessDenied):
            live_queue(session, v["leadb"], team_a, NOW)
        assert session.exec(select(Break)).all() == []
    refused = audits(engine, "access_denied")
    assert len(refused) == 4 and {e.username for e in refused} == {"leadb"}
    assert refused[0].target == f"agent {ids['a01']}"


def test_an_agent_cannot_answer_or_cancel_someone_elses_break(engine: Engine) -> None:
    queue_team(engine, on=15)
    v = accounts(engine)
    ids = load(engine, [])
    with Session(engine) as session:
        brk = schedule_break(session, v["lead"], ids["a01"], m(10), 10, None, now=NOW)
        with pytest.raises(AccessDenied):
            respond_to_break(session, v["a02"], brk.id, True, now=NOW)
        with pytest.raises(AccessDenied):
            cancel_break(session, v["a02"], brk.id, now=NOW)
        with pytest.raises(AccessDenied):
            respond_to_break(session, v["lead"], brk.id, True, now=NOW)  # the lead cannot answer for them
        with pytest.raises(AccessDenied):
            decide_request(session, v["a02"], brk.id, True, now=NOW)
        assert session.get(Break, brk.id).status == "planned"
    assert [e.username for e in audits(engine, "access_denied")] == ["a02", "a02", "lead", "a02"]
