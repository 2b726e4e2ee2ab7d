"""Survey results for leads and HR: worked numbers, access refusals, response rates, the deterioration flag.

Each store is built by hand so the expected numbers can be worked out in the comments; every test
runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.accounts import create_user, viewer_for
from ax.instruments import CBI_WORK_ITEMS, ENPS_ITEM, SINGLE_BURNOUT_ITEM, WHO5_ITEMS, weekly_pulse_items
from ax.privacy import Granularity, Reason, period_of, periods_ending
from ax.survey_stats import (
    View,
    comments,
    deterioration_flags,
    ewma_signal,
    item_summaries,
    response_rates,
    shrink,
    survey_scores,
    views_for,
)
from db.models import (
    Agent,
    AuditEvent,
    PulseAnswer,
    PulseSurvey,
    Role,
    SurveyDefinition,
    Team,
    TeamMembership,
)

# Most tests pin SQLite; the ones that exercise distinct SQL paths (reads, distinct counts, the
# weekly WHO-5 query, audit rows) run on both back ends.
sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
MARCH = period_of(date(2026, 3, 15), Granularity.month)  # 2 – 29 March 2026
AFTER = datetime(2026, 4, 20, tzinfo=UTC)
COMMON = {"source": "t", "deleted": False}


class Org:
    """Teams, agents and survey windows written straight into the store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.next_window = 1

    def teams(self, *teams: tuple[int, str, int | None, str | None, list[int]]) -> None:
        """(id, name, parent, site, agent ids)."""
        with self.engine.begin() as conn:
            for team_id, name, _, site, _ in teams:
                conn.execute(
                    insert(Team.__table__).values(
                        **COMMON, id=team_id, external_id=f"team-{team_id}", name=name, site=site
                    )
                )
            for team_id, _, parent, _, _ in teams:
                conn.execute(
                    update(Team.__table__).where(Team.__table__.c.id == team_id).values(parent_id=parent)
                )
            agents = sorted({a for *_, members in teams for a in members})
            conn.execute(
                insert(Agent.__table__),
                [{**COMMON, "id": a, "external_id": f"agent-{a}", "name": f"Agent {a}"} for a in agents],
            )
            conn.execute(
                insert(TeamMembership.__table__),
                [
                    {**COMMON, "external_id": f"m-{t}-{a}", "team_id": t, "agent_id": a}
                    for t, *_, members in teams
                    for a in members
                ],
            )
            conn.execute(
                insert(SurveyDefinition.__table__),
                [
                    {
                        "id": n,
                        "key": key,
                        "title": key,
                        "cadence": cadence,
                        "items": "[]",
                        "custom_items": "[]",
                        "rotation": cadence == "weekly",
                        "window_days": 7,
                        "active": True,
                        "updated_at": AFTER,
                    }
                    for n, key, cadence in ((1, "weekly_pulse", "weekly"), (2, "monthly_checkin", "monthly"))
                ],
            )

    def window(self, opens: datetime, answers: dict[int, dict[str, object]], *, weekly: bool = False) -> int:
        """One window (7 days, or 5 for the weekly pulse) and the answers given in it, per agent."""
        wid = self.next_window
        self.next_window += 1
        keys = sorted({k for given in answers.values() for k in given})
        closes = opens + timedelta(days=5 if weekly else 7)
        with self.engine.begin() as conn:
            conn.execute(
                insert(PulseSurvey.__table__).values(
                    id=wid,
                    key=f"w{wid}",
                    title=f"Window {wid}",
                    instrument="pulse",
                    opens_at=opens,
                    closes_at=closes,
                    definition_id=1 if weekly else 2,
                    items=json.dumps(keys),
                )
            )
            rows = [
                {
                    **COMMON,
                    "external_id": f"a-{wid}-{agent}-{key}",
                    "survey_id": wid,
                    "agent_id": agent,
                    "item_key": key,
                    "value": None if isinstance(value, str) else float(value),
                    "text": value if isinstance(value, str) else None,
                    "answered_at": opens + timedelta(hours=2),
                }
                for agent, given in answers.items()
                for key, value in given.items()
            ]
            if rows:
                conn.execute(insert(PulseAnswer.__table__), rows)
        return wid

    def viewer(
        self, username: str, role: Role, *, teams: list[int] | None = None, agent: int | None = None
    ) -> Viewer:
        with Session(self.engine) as session:
            user = create_user(
                session, username=username, password=None, role=role, agent_id=agent, lead_team_ids=teams
            )
            session.commit()
            return viewer_for(session, user)


def checkin(who5: int, cbi: int = 2, enps: int = 8, single: int = 1) -> dict[str, object]:
    """A full monthly check-in where every WHO-5 item is ``who5`` (score 20 × who5)."""
    answers: dict[str, object] = {item.key: who5 for item in WHO5_ITEMS}
    answers |= {item.key: cbi for item in CBI_WORK_ITEMS}
    return answers | {ENPS_ITEM.key: enps, SINGLE_BURNOUT_ITEM.key: single}


MARCH_OPENS = datetime(2026, 3, 1, tzinfo=UTC)  # counts in the week of 2 March: March


@pytest.fixture
def two_teams(engine: Engine) -> Org:
    """Support (agents 1–6) and Billing (7–12) under Ops; a lead of Support; March check-in answers."""
    org = Org(engine)
    org.teams(
        (1, "Ops", None, "Cork", []),
        (2, "Support", 1, None, [1, 2, 3, 4, 5, 6]),
        (3, "Billing", 1, None, [7, 8, 9, 10, 11, 12]),
    )
    answers = {
        1: checkin(2, cbi=1, enps=10, single=1),  # WHO-5 40 (low), CBI 25 … item 4 is reversed
        2: checkin(3, cbi=2, enps=9, single=3),  # 60
        3: checkin(4, cbi=3, enps=7, single=2),  # 80
        4: checkin(5, cbi=4, enps=3, single=4),  # 100
        5: checkin(1, cbi=0, enps=6, single=1),  # 20 (low)
        6: {WHO5_ITEMS[0].key: 3, ENPS_ITEM.key: 10},  # incomplete WHO-5: no WHO-5 score, eNPS counts
    }
    answers |= {a: checkin(3) for a in range(7, 13)}  # Billing: everyone 60
    org.window(MARCH_OPENS, answers)
    return org


def _cbi(value: int) -> float:
    """CBI work score when all seven items are ``value`` (item 4 reversed): (6·25v + 25(4 − v)) / 7."""
    return (6 * 25 * value + 25 * (4 - value)) / 7


def test_team_scores_are_worked_out_per_person_window(engine: Engine, two_teams: Org) -> None:
    """Support in March: five WHO-5 scores 40, 60, 80, 100, 20; six eNPS answers; and so on."""
    hr = two_teams.viewer("hr", Role.hr)
    with Session(engine) as session:
        [row] = survey_scores(session, hr, View(team_id=2), [MARCH], now=AFTER)
    assert row.view == "Support" and row.period == MARCH
    assert (row.who5_mean.value, row.who5_mean.respondents) == (60.0, 5)
    assert row.who5_low_share.value == pytest.approx(2 / 5)  # 40 and 20 are below 52
    assert row.cbi_work_mean.value == pytest.approx(sum(_cbi(v) for v in (1, 2, 3, 4, 0)) / 5)
    assert row.burnout_share.value == pytest.approx(2 / 5)  # single item 3 and 4
    # eNPS over six answers 10, 9, 7, 3, 6, 10: promoters 3, detractors 2 → (3 − 2) / 6
    assert (row.enps.value, row.enps.respondents) == (pytest.approx(100 / 6), 6)


@sqlite_only
def test_a_lead_sees_their_team_but_nothing_that_isolates_one_person(engine: Engine, two_teams: Org) -> None:
    lead = two_teams.viewer("lead", Role.lead, teams=[2])
    with Session(engine) as session:
        assert [o.label for o in views_for(session, lead)] == ["Support"]
        [row] = survey_scores(session, lead, View(team_id=2), [MARCH], now=AFTER)
    assert row.who5_mean.shown
    fields = {f.name for f in dataclasses.fields(row.who5_mean)}
    assert fields == {"value", "respondents", "reason", "message"}  # no per-person field to leak through


def test_refusals_raise_and_are_audited(engine: Engine, two_teams: Org) -> None:
    """An agent asking for team stats, a lead asking for another team, the org or a site."""
    agent = two_teams.viewer("ana", Role.agent, agent=1)
    lead = two_teams.viewer("lead", Role.lead, teams=[2])
    asks = [(agent, View(team_id=2)), (lead, View(team_id=3)), (lead, View()), (lead, View(site="Cork"))]
    with Session(engine) as session:
        for viewer, view in asks:
            with pytest.raises(AccessDenied):
                survey_scores(session, viewer, view, [MARCH], now=AFTER)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [(e.username, e.user_id) for e in events] == [(v.username, v.user_id) for v, _ in asks]
    assert all(e.target for e in events)


@sqlite_only
def test_agents_and_other_teams_leads_get_no_flags_or_comments(engine: Engine, two_teams: Org) -> None:
    agent = two_teams.viewer("ana", Role.agent, agent=1)
    lead = two_teams.viewer("lead", Role.lead, teams=[2])
    with Session(engine) as session:
        with pytest.raises(AccessDenied):
            deterioration_flags(session, agent, now=AFTER)
        with pytest.raises(AccessDenied):
            deterioration_flags(session, lead, team_ids=[3], now=AFTER)
        with pytest.raises(AccessDenied):
            comments(session, agent, View(team_id=2), MARCH, "custom_text", now=AFTER)
        assert len(session.exec(select(AuditEvent)).all()) == 3


@sqlite_only
def test_small_team_is_shown_as_part_of_its_parent_and_its_sibling_is_hidden(engine: Engine) -> None:
    """Support has 3 respondents, Billing 6: Support hides, Billing hides too, Ops (9) shows."""
    org = Org(engine)
    org.teams(
        (1, "Ops", None, None, []),
        (2, "Support", 1, None, [1, 2, 3]),
        (3, "Billing", 1, None, [4, 5, 6, 7, 8, 9]),
    )
    org.window(MARCH_OPENS, {a: checkin(3) for a in range(1, 10)})
    hr = org.viewer("hr", Role.hr)
    with Session(engine) as session:
        support, billing, ops = (
            survey_scores(session, hr, View(team_id=t), [MARCH], now=AFTER)[0] for t in (2, 3, 1)
        )
    assert support.who5_mean == dataclasses.replace(
        support.who5_mean,
        value=None,
        respondents=None,
        reason=Reason.part_of,
        message="Fewer than 5 people answered, so their answers are shown as part of Ops.",
    )
    assert billing.who5_mean.reason is Reason.complement_group and billing.who5_mean.value is None
    assert (ops.who5_mean.value, ops.who5_mean.respondents) == (60.0, 9)


@sqlite_only
def test_nothing_is_shown_while_the_window_is_open(engine: Engine, two_teams: Org) -> None:
    hr = two_teams.viewer("hr", Role.hr)
    during = MARCH_OPENS + timedelta(days=3)
    with Session(engine) as session:
        [row] = survey_scores(session, hr, View(team_id=2), [MARCH], now=during)
        [rate] = response_rates(session, hr, View(team_id=2), [MARCH], now=during)
    assert row.who5_mean.reason is Reason.not_closed and row.who5_mean.value is None
    assert (rate.closed, rate.respondents) == (False, 6)  # response rates are live, counts only


@sqlite_only
def test_item_distribution_lists_every_option(engine: Engine, two_teams: Org) -> None:
    hr = two_teams.viewer("hr", Role.hr)
    with Session(engine) as session:
        [summary] = item_summaries(session, hr, View(team_id=2), MARCH, items=["who5_1"], now=AFTER)
    # who5_1 answers in Support: 2, 3, 4, 5, 1 and agent 6's 3
    assert summary.counts == ((0, 0), (1, 1), (2, 1), (3, 2), (4, 1), (5, 1))
    assert (summary.mean.value, summary.mean.respondents) == (3.0, 6)
    assert summary.question == WHO5_ITEMS[0].text


@sqlite_only
def test_comments_need_ten_people_and_carry_no_author_or_time(engine: Engine) -> None:
    org = Org(engine)
    org.teams((1, "Care", None, None, list(range(1, 13))), (2, "Desk", None, None, list(range(13, 25))))
    texts = {a: {"custom_text": f"note {chr(ord('z') - a)}"} for a in range(1, 11)}  # ten in Care
    texts |= {a: {"custom_text": "more breaks"} for a in range(13, 23)}  # ten in Desk
    org.window(MARCH_OPENS, texts)
    hr = org.viewer("hr", Role.hr)
    with Session(engine) as session:
        care = comments(session, hr, View(team_id=1), MARCH, "custom_text", now=AFTER)
        whole = comments(session, hr, View(), MARCH, "custom_text", now=AFTER)
    assert care.texts == tuple(sorted(f"note {chr(ord('z') - a)}" for a in range(1, 11)))
    assert care.respondents == 10 and whole.respondents == 20
    assert {f.name for f in dataclasses.fields(care)} == {
        "view",
        "period",
        "item_key",
        "question",
        "texts",
        "respondents",
        "reason",
        "message",
    }


@sqlite_only
def test_nine_comments_are_not_shown(engine: Engine) -> None:
    org = Org(engine)
    org.teams((1, "Care", None, None, list(range(1, 13))))
    org.window(MARCH_OPENS, {a: {"custom_text": "tired"} for a in range(1, 10)})
    hr = org.viewer("hr", Role.hr)
    with Session(engine) as session:
        found = comments(session, hr, View(team_id=1), MARCH, "custom_text", now=AFTER)
    assert (found.texts, found.respondents, found.reason) == (None, None, Reason.too_few)
    assert found.message == "Fewer than 10 people answered."


def test_response_rate_is_shown_for_any_team_and_names_no_one(engine: Engine) -> None:
    """Care: 6 of 8 answered (0.75); Solo, a team of one, 0 of 1; counts only."""
    org = Org(engine)
    org.teams((1, "Care", None, None, list(range(1, 9))), (2, "Solo", None, None, [9]))
    org.window(MARCH_OPENS, {a: {"enps": 8} for a in range(1, 7)})
    hr = org.viewer("hr", Role.hr)
    with Session(engine) as session:
        [care] = response_rates(session, hr, View(team_id=1), [MARCH], now=AFTER)
        [solo] = response_rates(session, hr, View(team_id=2), [MARCH], now=AFTER)
    assert (care.members, care.respondents, care.rate, care.closed) == (8, 6, 0.75, True)
    # a team of one: showing 0 of 1 would name the person who did not answer
    assert (solo.members, solo.respondents, solo.rate) == (1, None, None)
    assert {f.name for f in dataclasses.fields(care)} == {
        "view",
        "period",
        "members",
        "respondents",
        "rate",
        "closed",
    }


# --- deterioration flag --------------------------------------------------------------------------


def test_ewma_on_a_hand_built_series() -> None:
    """Baseline 60, 62, 58, 60 (mean 60, sd 1.633); then 59, 50, 48.

    z₁ = 0.3·59 + 0.7·60 = 59.7,  z₂ = 0.3·50 + 0.7·59.7 = 56.79,  z₃ = 0.3·48 + 0.7·56.79 = 54.153
    lower limit 60 − 3·1.633·√(0.3/1.7·(1 − 0.7^(2t))): t=1 58.530, t=2 58.206, t=3 58.067
    (widths 3σ × 0.3, × 0.3662, × 0.3946)
    """
    result = ewma_signal([60, 62, 58, 60, 59, 50, 48], lam=0.3, limit=3, baseline=4)
    assert result is not None
    assert (result.center, result.sigma) == (60, pytest.approx(math.sqrt(8 / 3)))
    assert result.ewma == pytest.approx((59.7, 56.79, 54.153))
    assert result.lower == pytest.approx((58.530, 58.206, 58.067), abs=1e-3)
    assert (result.flagged, result.since) == (True, 5)  # signalling since the 50
    recovered = ewma_signal([60, 62, 58, 60, 59, 50, 48, 70, 75], lam=0.3, limit=3, baseline=4)
    assert recovered is not None and (recovered.flagged, recovered.since) == (False, None)
    assert ewma_signal([60, 62, 58, 60], baseline=4) is None  # nothing to judge after the baseline
    floored = ewma_signal([60, 60, 60, 60, 59], baseline=4, sigma_floor=2.0)
    assert floored is not None and not floored.flagged  # a flat baseline does not flag a 1-point dip


def test_shrink_pulls_small_teams_further() -> None:
    """A 5-person team at 40 with weight 5 meets the org at 60 halfway; a 45-person team barely moves."""
    assert shrink(40, 5, 60, 5) == 50
    assert shrink(40, 45, 60, 5) == 42


def test_deterioration_flag_from_weekly_who5_items(engine: Engine) -> None:
    """Twelve weekly pulses. Care (10) drops from 60 to 20 in week 10; Desk (15) stays at 60;
    Solo (4) never has 5 respondents, so it cannot be judged."""
    org = Org(engine)
    org.teams(
        (1, "Care", None, None, list(range(1, 11))),
        (2, "Desk", None, None, list(range(11, 26))),
        (3, "Solo", None, None, [26, 27, 28, 29]),
    )
    first = date(2026, 1, 5)
    for n in range(12):
        monday = first + timedelta(weeks=n)
        items = [i.key for i in weekly_pulse_items(monday.toordinal() // 7) if i.key.startswith("who5")]
        answers = {}
        for agent in range(1, 30):
            level = [2, 3, 4][agent % 3]  # WHO-5 items 2–4 around a mean of 3 (= 60)
            if agent <= 10 and n >= 9:
                level -= 2  # Care from week 10: mean 1 (= 20)
            answers[agent] = {key: level for key in items}
        org.window(datetime.combine(monday, datetime.min.time(), UTC), answers, weekly=True)
    hr = org.viewer("hr", Role.hr)
    now = datetime.combine(first + timedelta(weeks=12, days=1), datetime.min.time(), UTC)
    with Session(engine) as session:
        care, desk, solo = deterioration_flags(session, hr, now=now)
        lead = org.viewer("lead", Role.lead, teams=[1])
        assert [f.team for f in deterioration_flags(session, lead, now=now)] == ["Care"]
    assert (care.team, care.flagged, care.since, care.weeks_used) == (
        "Care",
        True,
        first + timedelta(weeks=9),
        12,
    )
    assert "not a diagnosis" in care.message
    assert (desk.flagged, desk.since) == (False, None)
    assert (solo.flagged, solo.weeks_used) == (None, 0)
    assert {f.name for f in dataclasses.fields(care)} == {
        "team_id",
        "team",
        "flagged",
        "since",
        "weeks_used",
        "message",
    }


def test_periods_for_pages_are_whole_and_recent() -> None:
    weeks = periods_ending(date(2026, 3, 15), Granularity.week, 3)
    assert [w.start for w in weeks] == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    with pytest.raises(ValueError):
        periods_ending(date(2026, 3, 15), Granularity.week, 0)
