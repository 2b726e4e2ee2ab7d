"""Survey privacy: each rule on a worked example, then an adversarial suite that plays the viewer.

The adversarial suite generates many org charts (seeded random trees of teams, sizes 1–15, sites,
some people in two teams, some who never answer) and answer sets, asks for every view a lead or
HR user can ask for (each team, site, team at a site and the whole org; each week, month and
quarter), and checks what comes back against respondent sets the test works out itself from the
generated data:

- no shown cell has fewer than k respondents (comments: 10), and its count is right;
- two shown cells of one measure whose answers are nested (team vs parent, team vs site, week
  of a team vs week of the org, month vs quarter) differ by at least k people, or not at all;
- no group of answers from fewer than k people can be singled out by adding and subtracting shown
  cells (checked as "atoms" and, as an attacker would, by linear algebra on the shown totals);
- a period's decisions never change once made, however much later data arrives.

Most generated cases run on the pure rules (no database); a few run through
:mod:`ax.survey_stats` on SQLite, and one on PostgreSQL too.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ax.access import Viewer
from ax.accounts import create_user, viewer_for
from ax.instruments import CBI_WORK_ITEMS, ENPS_ITEM, SINGLE_BURNOUT_ITEM, WHO5_ITEMS, weekly_pulse_items
from ax.privacy import (
    NOBODY,
    ORG,
    Decision,
    Granularity,
    OrgChart,
    Period,
    Reason,
    TeamNode,
    comment_threshold,
    period_of,
    periods_ending,
    periods_in,
    plan_release,
    present_comments,
    team_key,
    window_week,
)
from ax.survey_stats import View, comments, compare_views, item_summaries, survey_scores
from db.models import Agent, PulseAnswer, PulseSurvey, Role, SurveyDefinition, Team, TeamMembership

K = 5
K_COMMENTS = 10
Q1 = period_of(date(2026, 2, 10), Granularity.quarter)  # 29 Dec 2025 – 29 Mar 2026, 13 weeks
AFTER = datetime(2026, 4, 20, tzinfo=UTC)  # every Q1 window has closed
WEEK, MONTH, QUARTER = Granularity.week, Granularity.month, Granularity.quarter
# Where an answer counts, by its survey's rhythm: the rule as the product states it.
SPEC_COUNTS = {WEEK: {WEEK}, MONTH: {MONTH, QUARTER}, QUARTER: {QUARTER}}
MESSAGES = {
    Reason.no_answers: "No one answered.",
    Reason.too_few: "Fewer than {k} people answered.",
    Reason.complement_group: "Hidden so that the smaller group next to it cannot be worked out.",
    Reason.complement_period: (
        "Hidden so that a shorter period inside it, hidden itself, cannot be worked out."
    ),
    Reason.not_closed: "Shown once the survey for this period has closed.",
}

Unit = tuple[int, date, Granularity]  # (person, week Monday, rhythm of the window)
PERIODS_OF_WEEK = {week: [p for p in periods_in(Q1) if p.start <= week < p.end] for week in Q1.weeks()}


def always(_: Period) -> bool:
    return True


MONTHS = [p for p in periods_in(Q1) if p.granularity is MONTH]


# --- a generated organisation --------------------------------------------------------------------


@dataclass
class FakeOrg:
    """Teams, memberships and who answered when; the ground truth is worked out here, not in ax/."""

    teams: list[TeamNode]
    memberships: list[tuple[int, int]]  # (team, agent)
    units: dict[str, set[Unit]] = field(default_factory=dict)  # measure → units
    _members: dict[tuple[int | None, str | None], frozenset[int]] = field(default_factory=dict)
    _cells: dict[tuple[str, tuple[int | None, str | None]], dict[Period, frozenset[Unit]]] = field(
        default_factory=dict
    )

    @property
    def sites(self) -> list[str]:
        return sorted({t.site for t in self.teams if t.site})

    def subtree(self, team_id: int) -> set[int]:
        found = {team_id}
        changed = True
        while changed:
            changed = False
            for team in self.teams:
                if team.parent_id in found and team.id not in found:
                    found.add(team.id)
                    changed = True
        return found

    def site_of(self, team_id: int) -> str | None:
        by_id = {t.id: t for t in self.teams}
        current: int | None = team_id
        while current is not None:
            if by_id[current].site:
                return by_id[current].site
            current = by_id[current].parent_id
        return None

    def members(self, team_id: int | None, site: str | None) -> frozenset[int]:
        """Who a filter selects, worked out from the memberships directly."""
        if (team_id, site) not in self._members:
            self._members[(team_id, site)] = self._select(team_id, site)
        return self._members[(team_id, site)]

    def _select(self, team_id: int | None, site: str | None) -> frozenset[int]:
        teams = self.subtree(team_id) if team_id is not None else {t.id for t in self.teams}
        if site is not None:
            teams = {t for t in teams if self.site_of(t) == site}
        return frozenset(a for t, a in self.memberships if t in teams)

    def views(self) -> list[tuple[int | None, str | None]]:
        """Every filter combination: org, each site, each team, each team at each site."""
        team_ids: list[int | None] = [None, *(t.id for t in self.teams)]
        return list(itertools.product(team_ids, [None, *self.sites]))

    def chart(self) -> OrgChart:
        return OrgChart(self.teams, self.memberships)


def fake_org(seed: int, *, max_teams: int = 9) -> FakeOrg:
    """A random org chart with sizes 1–15, sites, a few people in two teams and some who never answer."""
    rng = random.Random(seed)
    sites = ["Cork", "Lisbon", "Porto"][: rng.randint(1, 3)]
    teams: list[TeamNode] = []
    for team_id in range(1, rng.randint(2, max_teams) + 1):
        parent = rng.choice([t.id for t in teams]) if teams and rng.random() < 0.8 else None
        site = rng.choice([*sites, None]) if parent is not None else rng.choice(sites)
        teams.append(TeamNode(team_id, f"Team {team_id}", parent, site))
    memberships: list[tuple[int, int]] = []
    agent = 0
    for team in teams:
        for _ in range(rng.randint(1, 15)):
            agent += 1
            memberships.append((team.id, agent))
    for _ in range(rng.randint(0, 3)):  # someone who also works in a second team
        memberships.append((rng.choice(teams).id, rng.randint(1, agent)))
    org = FakeOrg(teams, sorted(set(memberships)))
    propensity = {a: rng.choice([0.0, 0.0, 0.4, 0.7, 0.9, 1.0]) for a in range(1, agent + 1)}
    weekly = {(a, week, WEEK) for a in propensity for week in Q1.weeks() if rng.random() < propensity[a]}
    monthly = {
        (a, month.start, MONTH) for a in propensity for month in MONTHS if rng.random() < propensity[a]
    }
    org.units["score"] = weekly | monthly
    org.units["comment"] = {u for u in monthly if rng.random() < 0.8}
    return org


# --- the attacker's checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A cell as a viewer gets it back, with the answers the test knows lie behind it."""

    measure: str
    view: tuple[int | None, str | None]
    period: Period
    units: frozenset[Unit]
    reported: int | None  # respondents the module reported (None when hidden)


def truth(org: FakeOrg, measure: str, view: tuple[int | None, str | None], period: Period) -> frozenset[Unit]:
    """The answers behind a view's cell, from the generated data and the product's stated rules."""
    if (measure, view) not in org._cells:
        members = org.members(*view)
        buckets: dict[Period, set[Unit]] = defaultdict(set)
        for unit in org.units[measure]:
            if unit[0] in members:
                for holder in PERIODS_OF_WEEK[unit[1]]:
                    if holder.granularity in SPEC_COUNTS[unit[2]]:
                        buckets[holder].add(unit)
        org._cells[(measure, view)] = {p: frozenset(units) for p, units in buckets.items()}
    return org._cells[(measure, view)].get(period, frozenset())


def people(units: Iterable[Unit]) -> set[int]:
    return {u[0] for u in units}


def check_no_disclosure(shown: list[Seen], hidden: list[Seen], k_of: Mapping[str, int]) -> int:
    """Every check the module docstring promises; returns how many shown cells were checked."""
    by_measure: dict[str, list[Seen]] = defaultdict(list)
    for cell in shown:
        k = k_of[cell.measure]
        assert len(people(cell.units)) >= k, f"{cell} shows fewer than {k} people"
        assert cell.reported == len(people(cell.units)), f"{cell} reports a wrong count"
        by_measure[cell.measure].append(cell)
    for measure, cells in by_measure.items():
        k = k_of[measure]
        distinct = list({c.units: c for c in cells}.values())
        for a, b in itertools.permutations(distinct, 2):
            if a.units < b.units:  # nested answers: the difference is what subtraction reveals
                gap = people(b.units - a.units)
                assert len(gap) >= k, f"{b.view} {b.period.label} minus {a.view} {a.period.label}: {len(gap)}"
            if a.period == b.period and people(a.units) < people(b.units):
                gap = people(b.units) - people(a.units)
                assert len(gap) >= k, f"{a.view} inside {b.view} in {a.period.label} differ by {len(gap)}"
        _check_atoms_and_solve(distinct, [h for h in hidden if h.measure == measure], k)
    return len(shown)


def _check_atoms_and_solve(shown: list[Seen], hidden: list[Seen], k: int) -> None:
    """Atoms hold ≥ k people, and no small hidden cell's total is a combination of shown totals."""
    if not shown:
        return
    signature: dict[Unit, list[int]] = defaultdict(list)
    for index, cell in enumerate(shown):
        for unit in cell.units:
            signature[unit].append(index)
    atoms: dict[tuple[int, ...], set[Unit]] = defaultdict(set)
    for unit, cells in signature.items():
        atoms[tuple(cells)].add(unit)
    for units in atoms.values():
        assert len(people(units)) >= k, f"{len(people(units))} people can be singled out by subtraction"
    # The attacker: shown totals are rows over the atoms; can a small hidden cell be solved for?
    # (Every combination of shown cells is even on an atom, so only cells made of whole atoms can.)
    columns = list(atoms)
    unit_atom = {unit: n for n, cells in enumerate(columns) for unit in atoms[cells]}
    targets = []
    for cell in hidden:
        if not 0 < len(people(cell.units)) < k or any(u not in unit_atom for u in cell.units):
            continue
        sizes: dict[int, int] = defaultdict(int)
        for unit in cell.units:
            sizes[unit_atom[unit]] += 1
        if all(count == len(atoms[columns[n]]) for n, count in sizes.items()):
            targets.append((cell, list(sizes)))
    if not targets:
        return
    matrix = np.array([[1.0 if i in cells else 0.0 for cells in columns] for i in range(len(shown))])
    _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    basis = vt[singular > 1e-9]
    for cell, inside in targets:
        target = np.zeros(len(columns))
        target[inside] = 1.0
        residual = target - basis.T @ (basis @ target)
        assert np.linalg.norm(residual) > 1e-6, f"hidden {cell.view} {cell.period.label} can be solved for"


def every_cell(
    org: FakeOrg, chart: OrgChart, measure: str, decide: Callable[[str, Period], Decision]
) -> tuple[list[Seen], list[Seen]]:
    """Ask for every view and period through the API; split into shown and hidden cells."""
    shown, hidden = [], []
    for view, period in itertools.product(org.views(), periods_in(Q1)):
        decision = decide(chart.view_key(*view), period)
        seen = Seen(measure, view, period, truth(org, measure, view, period), decision.respondents)
        if decision.visible:
            shown.append(seen)
        else:
            assert decision.message, "a hidden cell always says why"
            hidden.append(seen)
    return shown, hidden


# --- generated org charts against the pure rules -------------------------------------------------

SEEDS_PER_CASE = 12


@pytest.mark.parametrize("case", range(10))
def test_generated_org_charts_never_disclose_anyone(case: int) -> None:
    """120 org charts × every view × every period × numbers and comments: nothing can be recovered."""
    checked = hidden_by_complement = 0
    for seed in range(case * SEEDS_PER_CASE, (case + 1) * SEEDS_PER_CASE):
        org = fake_org(seed)
        chart = org.chart()
        for measure, k in (("score", K), ("comment", K_COMMENTS)):
            release = plan_release(chart, Q1, org.units[measure], threshold=k, released=always)
            shown, hidden = every_cell(org, chart, measure, release.decision)
            checked += check_no_disclosure(shown, hidden, {measure: k})
            for cell in hidden:  # every hidden cell says why in words a person understands
                decision = release.decision(chart.view_key(*cell.view), cell.period)
                if decision.reason is Reason.part_of:
                    assert decision.message.startswith(f"Fewer than {k} people answered, so their answers")
                else:
                    assert decision.message == MESSAGES[decision.reason].format(k=k)
                hidden_by_complement += decision.reason in (Reason.complement_group, Reason.complement_period)
    assert checked > 500  # the suite really looked at shown cells …
    assert hidden_by_complement > 10  # … and the generated data really needed complementary suppression


@pytest.mark.parametrize("seed", range(20))
def test_decisions_never_change_as_later_weeks_arrive(seed: int) -> None:
    """Asking again after more weeks have closed reveals nothing new: earlier decisions stand."""
    org = fake_org(1000 + seed)
    chart = org.chart()
    cutoff = Q1.weeks()[random.Random(seed).randint(1, 12)]
    early_units = {u for u in org.units["score"] if u[1] < cutoff}
    early = plan_release(chart, Q1, early_units, threshold=K, released=lambda p: p.end <= cutoff)
    later = plan_release(chart, Q1, org.units["score"], threshold=K, released=always)
    decided = 0
    for key, period in itertools.product(chart.groups, periods_in(Q1)):
        before = early.decision(key, period)
        if period.end <= cutoff:
            assert later.decision(key, period) == before, f"{key} {period.label} changed"
            decided += 1
        else:
            assert before.reason is Reason.not_closed and not before.visible
    assert decided > 0


# --- each rule on a worked example ----------------------------------------------------------------


def _org(*teams: tuple[int, int | None, str | None, int]) -> tuple[OrgChart, dict[int, list[int]]]:
    """Teams as (id, parent, site, size); people are numbered team by team."""
    nodes, memberships, people_of = [], [], {}
    next_agent = 1
    for team_id, parent, site, size in teams:
        nodes.append(TeamNode(team_id, f"T{team_id}", parent, site))
        people_of[team_id] = list(range(next_agent, next_agent + size))
        memberships += [(team_id, a) for a in people_of[team_id]]
        next_agent += size
    return OrgChart(nodes, memberships), people_of


WEEK1 = Period(WEEK, Q1.start)


def _answered(*agents: Iterable[int], week: date = Q1.start, rhythm: Granularity = WEEK) -> set[Unit]:
    return {(a, week, rhythm) for group in agents for a in group}


def test_periods_are_whole_weeks_months_and_quarters_only() -> None:
    """A month is the ISO weeks whose Thursday falls in it; nothing else can be asked for."""
    march = period_of(date(2026, 3, 15), MONTH)
    assert (march.start, march.end) == (date(2026, 3, 2), date(2026, 3, 30))  # 1 March is a Sunday
    assert march.label == "Mar 2026"
    assert period_of(date(2026, 1, 1), MONTH).start == date(2025, 12, 29)  # Thursday 1 Jan: its week
    assert (Q1.start, Q1.end, len(Q1.weeks())) == (date(2025, 12, 29), date(2026, 3, 30), 13)
    assert [p.label for p in MONTHS] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert [p.start for p in periods_ending(date(2026, 3, 4), WEEK, 2)] == [
        date(2026, 2, 23),
        date(2026, 3, 2),
    ]
    with pytest.raises(ValueError, match="never arbitrary ranges"):
        Period(MONTH, date(2026, 3, 9))  # a month starting mid-month is a custom range
    with pytest.raises(ValueError):
        Period(WEEK, date(2026, 3, 4))  # a Wednesday
    with pytest.raises(ValueError):
        Granularity("day")


def test_a_window_counts_in_the_week_of_its_middle_day() -> None:
    """The check-in that opens on Sunday 1 March counts in March, not in February's last week."""
    opens = datetime(2026, 3, 1, tzinfo=UTC)
    week = window_week(opens, opens + timedelta(days=7), UTC)
    assert week == date(2026, 3, 2)
    assert period_of(week, MONTH) == period_of(date(2026, 3, 15), MONTH)
    assert period_of(opens.date(), MONTH).label == "Feb 2026"  # what counting by opening day would do


def test_threshold_five_shows_five_and_hides_four() -> None:
    """A team of 6 where 5 answered shows; where 4 answered it hides, and so does the org (also 4)."""
    chart, p = _org((1, None, "Cork", 6))
    five = plan_release(chart, Q1, _answered(p[1][:5]), threshold=K, released=always)
    assert five.decision(team_key(1), WEEK1) == Decision(True, 5)
    four = plan_release(chart, Q1, _answered(p[1][:4]), threshold=K, released=always)
    for key in (team_key(1), ORG, "site:Cork"):
        decision = four.decision(key, WEEK1)
        assert (decision.visible, decision.reason) == (False, Reason.too_few)
        assert decision.message == "Fewer than 5 people answered."


def test_next_smallest_sibling_is_hidden_too() -> None:
    """Parent P (no people of its own) with A (3 answered), B (6) and C (9): A and B hide, C shows.

    Without hiding B, P − B − C would give A's three answers.
    """
    chart, p = _org((1, None, None, 0), (2, 1, None, 3), (3, 1, None, 6), (4, 1, None, 9))
    release = plan_release(chart, Q1, _answered(p[2], p[3], p[4]), threshold=K, released=always)
    a, b, c, parent = (release.decision(team_key(t), WEEK1) for t in (2, 3, 4, 1))
    assert (a.reason, a.message) == (
        Reason.part_of,
        "Fewer than 5 people answered, so their answers are shown as part of T1.",
    )
    assert (b.visible, b.reason) == (False, Reason.complement_group)
    assert b.message == "Hidden so that the smaller group next to it cannot be worked out."
    assert (c.visible, c.respondents) == (True, 9)
    assert (parent.visible, parent.respondents) == (True, 18)


def test_a_parent_one_person_bigger_than_its_only_child_shows_only_one_of_them() -> None:
    """T2 (6 answered) under T1, which adds one person of its own: T1 − T2 would be that person."""
    chart, p = _org((1, None, None, 1), (2, 1, None, 6), (3, None, None, 8))
    release = plan_release(chart, Q1, _answered(p[1], p[2], p[3]), threshold=K, released=always)
    child, parent = release.decision(team_key(2), WEEK1), release.decision(team_key(1), WEEK1)
    assert parent.visible and not child.visible
    assert child.reason is Reason.complement_group
    # and the org minus the other top team gives T1's seven, never T1's lone person
    assert release.decision(ORG, WEEK1).respondents == 15


def test_small_teams_fall_back_to_the_nearest_shown_group() -> None:
    """Two small teams under a small parent are shown as part of the grandparent."""
    chart, p = _org((1, None, None, 6), (2, 1, None, 0), (3, 2, None, 2), (4, 2, None, 2), (5, None, None, 7))
    release = plan_release(chart, Q1, _answered(p[1], p[3], p[4], p[5]), threshold=K, released=always)
    for team in (3, 4):
        decision = release.decision(team_key(team), WEEK1)
        assert decision.message == "Fewer than 5 people answered, so their answers are shown as part of T1."
    assert release.decision(team_key(2), WEEK1).reason is Reason.part_of
    assert release.decision(team_key(1), WEEK1).respondents == 10


def test_filters_by_site_and_team_at_site_must_each_reach_the_threshold() -> None:
    """A site filter narrowing to 4 people hides; a team split across sites has a view per site."""
    chart, p = _org((1, None, "Cork", 4), (2, 1, "Porto", 9), (3, None, "Porto", 8))
    release = plan_release(chart, Q1, _answered(p[1], p[2], p[3]), threshold=K, released=always)
    assert chart.view_key(team_id=1, site="Porto") == "team:1@site:Porto"
    assert chart.view_key(team_id=2, site="Porto") == team_key(2)  # all of T2 is at Porto
    assert chart.view_key(team_id=3, site="Cork") == NOBODY
    assert not release.decision(chart.view_key(site="Cork"), WEEK1).visible
    assert not release.decision(chart.view_key(team_id=1, site="Cork"), WEEK1).visible
    assert release.decision(chart.view_key(team_id=1, site="Porto"), WEEK1).respondents == 9
    assert release.decision(chart.view_key(site="Porto"), WEEK1).respondents == 17
    assert release.decision(NOBODY, WEEK1).reason is Reason.no_answers
    # T1 (13) shows, and so T1 − T1@Porto would give Cork's four: one of them must be hidden
    assert not (
        release.decision(team_key(1), WEEK1).visible and release.decision("team:1@site:Porto", WEEK1).visible
    )


def test_comments_need_ten_people() -> None:
    """Ten commenters show; nine hide, and then the only sibling hides too (the org minus it is them)."""
    chart, p = _org((1, None, None, 12), (2, None, None, 12))
    january = MONTHS[0]
    k = comment_threshold(K, K_COMMENTS)
    ten = plan_release(chart, Q1, _answered(p[1][:10], p[2], rhythm=MONTH), threshold=k, released=always)
    assert ten.decision(team_key(1), january) == Decision(True, 10)
    nine = plan_release(chart, Q1, _answered(p[1][:9], p[2], rhythm=MONTH), threshold=k, released=always)
    assert nine.decision(team_key(1), january).message == (
        "Fewer than 10 people answered, so their answers are shown as part of Whole organisation."
    )
    assert nine.decision(team_key(2), january).reason is Reason.complement_group
    assert nine.decision(ORG, january) == Decision(True, 21)
    assert comment_threshold(K, 3) == K  # comments never need fewer people than numbers
    assert present_comments(["b", " a ", "", "C"]) == ("a", "b", "C")


def test_a_quarter_hides_when_one_month_hides_and_the_others_show() -> None:
    """T1 answered 8, 3 and 8 people in its three check-ins: Q1 − Jan − Mar would be Feb's three."""
    chart, p = _org((1, None, None, 8), (2, None, None, 8))
    jan, feb, mar = MONTHS
    units = (
        _answered(p[1], p[2], week=jan.start, rhythm=MONTH)
        | _answered(p[1][:3], p[2], week=feb.start, rhythm=MONTH)
        | _answered(p[1], p[2], week=mar.start, rhythm=MONTH)
    )
    release = plan_release(chart, Q1, units, threshold=K, released=always)
    assert release.decision(team_key(1), feb).reason is Reason.part_of
    assert release.decision(team_key(1), jan).visible and release.decision(team_key(1), mar).visible
    quarter = release.decision(team_key(1), Q1)
    assert (quarter.visible, quarter.reason) == (False, Reason.complement_period)
    assert (
        quarter.message == "Hidden so that a shorter period inside it, hidden itself, cannot be worked out."
    )
    assert not release.decision(team_key(2), feb).visible  # the group-side complement of February


def test_weekly_pulses_are_not_added_into_months() -> None:
    """A month shows check-ins only, so it can never be taken apart into its (weekly) weeks."""
    chart, p = _org((1, None, None, 8))
    release = plan_release(chart, Q1, _answered(p[1]), threshold=K, released=always)
    assert release.decision(team_key(1), WEEK1).visible
    assert release.decision(team_key(1), MONTHS[0]).reason is Reason.no_answers


def test_open_periods_are_not_shown_and_a_quarter_waits_for_its_months() -> None:
    chart, p = _org((1, None, None, 8))
    units = _answered(p[1]) | _answered(p[1], week=MONTHS[0].start, rhythm=MONTH)
    release = plan_release(chart, Q1, units, threshold=K, released=lambda period: period != WEEK1)
    assert release.decision(team_key(1), WEEK1).reason is Reason.not_closed
    assert release.decision(team_key(1), MONTHS[0]).reason is Reason.not_closed  # WEEK1 is inside it
    assert release.decision(team_key(1), Q1).reason is Reason.not_closed
    assert release.decision(team_key(1), Q1).message == "Shown once the survey for this period has closed."


def test_same_answers_in_any_order_give_the_same_decisions() -> None:
    org = fake_org(7)
    chart = org.chart()
    units = sorted(org.units["score"])
    first = plan_release(chart, Q1, units, threshold=K, released=always)
    second = plan_release(chart, Q1, reversed(units), threshold=K, released=always)
    assert sorted(first.visible_cells(), key=str) == sorted(second.visible_cells(), key=str)
    assert first.visible_cells()


def test_org_chart_survives_loops_missing_parents_and_inherits_sites() -> None:
    teams = [
        TeamNode(1, "A", 2, "Cork"),
        TeamNode(2, "B", 1, None),  # A and B point at each other
        TeamNode(3, "C", 99, None),  # a parent that is not there
        TeamNode(4, "D", 1, None),
    ]
    chart = OrgChart(teams, [(1, 1), (2, 2), (3, 3), (4, 4)])
    assert chart.lineage(team_key(4)) == [team_key(1), ORG]
    assert chart.lineage(team_key(1)) == [ORG] and chart.lineage(team_key(3)) == [ORG]
    assert chart.members(team_key(1)) == {1, 4}
    assert chart.members("site:Cork") == {1, 4}  # D inherits A's site
    with pytest.raises(KeyError):
        chart.view_key(team_id=42)
    with pytest.raises(ValueError, match="below 2"):
        plan_release(chart, Q1, [], threshold=1, released=always)


# --- generated org charts through ax.survey_stats and the database ---------------------------------


CHECKIN_ITEMS = (*WHO5_ITEMS, *CBI_WORK_ITEMS, ENPS_ITEM, SINGLE_BURNOUT_ITEM)


def seed_survey_db(engine: Engine, org: FakeOrg, seed: int) -> dict[tuple[int, int], dict[str, object]]:
    """Write the org, a weekly pulse per week and a monthly check-in per month, with random answers.

    Returns every answer as (agent, window) → {item: value or text}: the test's ground truth.
    """
    rng = random.Random(seed)
    agents = sorted({a for _, a in org.memberships})
    answers: dict[tuple[int, int], dict[str, object]] = {}
    with engine.begin() as conn:
        common = {"source": "t", "deleted": False}
        conn.execute(
            insert(Team.__table__),
            [
                {
                    **common,
                    "id": t.id,
                    "external_id": f"team-{t.id}",
                    "name": t.name,
                    "site": t.site,
                    "parent_id": None,
                }
                for t in org.teams
            ],
        )
        for t in org.teams:
            if t.parent_id is not None:
                conn.execute(
                    Team.__table__.update().where(Team.__table__.c.id == t.id).values(parent_id=t.parent_id)
                )
        conn.execute(
            insert(Agent.__table__),
            [{**common, "id": a, "external_id": f"agent-{a}", "name": f"Agent {a}"} for a in agents],
        )
        conn.execute(
            insert(TeamMembership.__table__),
            [
                {**common, "external_id": f"m-{t}-{a}", "team_id": t, "agent_id": a}
                for t, a in org.memberships
            ],
        )
        definitions = [
            {"id": 1, "key": "weekly_pulse", "title": "Weekly pulse", "cadence": "weekly", "rotation": True},
            {
                "id": 2,
                "key": "monthly_checkin",
                "title": "Monthly check-in",
                "cadence": "monthly",
                "rotation": False,
            },
        ]
        conn.execute(
            insert(SurveyDefinition.__table__),
            [
                {
                    **d,
                    "items": "[]",
                    "custom_items": "[]",
                    "window_days": 7,
                    "active": True,
                    "updated_at": AFTER,
                }
                for d in definitions
            ],
        )
        windows, rows = [], []
        propensity = {a: rng.choice([0.0, 0.5, 0.8, 1.0, 1.0]) for a in agents}
        for n, monday in enumerate(Q1.weeks()):
            opens = datetime.combine(monday, datetime.min.time(), UTC)
            items = [i.key for i in weekly_pulse_items(monday.toordinal() // 7)]
            windows.append((n + 1, 1, "pulse", opens, opens + timedelta(days=5), items))
        for n in range(len(MONTHS)):
            opens = datetime(2026, n + 1, 1, tzinfo=UTC)  # check-ins open on the 1st, for 7 days
            items = [i.key for i in CHECKIN_ITEMS] + ["custom_text"]
            windows.append((100 + n, 2, "pulse", opens, opens + timedelta(days=7), items))
        conn.execute(
            insert(PulseSurvey.__table__),
            [
                {
                    "id": wid,
                    "key": f"w-{wid}",
                    "title": f"Window {wid}",
                    "instrument": instrument,
                    "opens_at": opens,
                    "closes_at": closes,
                    "definition_id": definition,
                    "items": json.dumps(items),
                }
                for wid, definition, instrument, opens, closes, items in windows
            ],
        )
        for wid, _, _, opens, _, items in windows:
            for agent in agents:
                if rng.random() >= propensity[agent]:
                    continue
                given: dict[str, object] = {}
                for key in items:
                    if key == "custom_text":
                        if rng.random() < 0.7:
                            given[key] = f"comment {rng.randint(1, 40)}"
                    elif rng.random() < 0.95:  # now and then a question is skipped
                        item = next(i for i in CHECKIN_ITEMS if i.key == key)
                        given[key] = float(rng.randint(item.min, item.max))
                answers[(agent, wid)] = given
                for key, value in given.items():
                    rows.append(
                        {
                            **common,
                            "external_id": f"a-{wid}-{agent}-{key}",
                            "survey_id": wid,
                            "agent_id": agent,
                            "item_key": key,
                            "value": value if isinstance(value, float) else None,
                            "text": value if isinstance(value, str) else None,
                            "answered_at": opens + timedelta(hours=1),
                        }
                    )
        conn.execute(insert(PulseAnswer.__table__), rows)
    return answers


def window_units(
    answers: Mapping[tuple[int, int], Mapping[str, object]], scored: Callable[[Mapping[str, object]], bool]
) -> set[Unit]:
    """Ground-truth units of a measure: week and rhythm of each window from the test's own calendar."""
    units = set()
    for (agent, wid), given in answers.items():
        if not scored(given):
            continue
        if wid < 100:
            units.add((agent, Q1.weeks()[wid - 1], WEEK))
        else:
            units.add((agent, MONTHS[wid - 100].start, MONTH))
    return units


def hr_viewer(engine: Engine) -> Viewer:
    with Session(engine) as session:
        user = create_user(session, username="hr", password=None, role=Role.hr)
        session.commit()
        return viewer_for(session, user)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("seed", [3, 19])
def test_generated_orgs_through_survey_stats_on_sqlite(engine: Engine, seed: int) -> None:
    _through_survey_stats(engine, seed)


def test_generated_org_through_survey_stats(engine: Engine) -> None:
    """The same end-to-end check on both back ends."""
    _through_survey_stats(engine, 23)


def _through_survey_stats(engine: Engine, seed: int) -> None:
    """Every view an HR user can pick, every period, scores, items, comments and comparisons."""
    org = fake_org(seed, max_teams=5)
    answers = seed_survey_db(engine, org, seed)
    org.units["who5"] = window_units(answers, lambda g: all(i.key in g for i in WHO5_ITEMS))
    org.units["single_burnout"] = window_units(answers, lambda g: SINGLE_BURNOUT_ITEM.key in g)
    org.units["text"] = window_units(answers, lambda g: "custom_text" in g)
    viewer = hr_viewer(engine)
    shown: list[Seen] = []
    hidden: list[Seen] = []
    periods = periods_in(Q1)
    quarter_periods = [p for p in periods if p.granularity is not WEEK]
    with Session(engine) as session:
        for view in org.views():
            rows = survey_scores(session, viewer, View(*view), periods, now=AFTER)
            for row in rows:
                for measure, figure in (("who5", row.who5_mean), ("single_burnout", row.burnout_share)):
                    target = shown if figure.shown else hidden
                    target.append(
                        Seen(
                            measure,
                            view,
                            row.period,
                            truth(org, measure, view, row.period),
                            figure.respondents,
                        )
                    )
                    assert (
                        (figure.value is None) == (figure.respondents is None) == (figure.message is not None)
                    )
                if row.who5_mean.shown:  # the value is the mean of per-window scores, recomputed here
                    units = truth(org, "who5", view, row.period)
                    scores = [
                        4 * sum(answers[(a, _wid(w, r))][i.key] for i in WHO5_ITEMS) for a, w, r in units
                    ]
                    assert row.who5_mean.value == pytest.approx(sum(scores) / len(scores))
            for period in quarter_periods:
                found = comments(session, viewer, View(*view), period, "custom_text", now=AFTER)
                units = truth(org, "text", view, period)
                if found.texts is not None:
                    shown.append(Seen("text", view, period, units, found.respondents))
                    expected = sorted(str(answers[(a, _wid(w, r))]["custom_text"]) for a, w, r in units)
                    assert sorted(found.texts) == expected and list(found.texts) == sorted(
                        found.texts, key=str.casefold
                    )
                else:
                    hidden.append(Seen("text", view, period, units, None))
            summary = item_summaries(
                session, viewer, View(*view), quarter_periods[0], items=["single_burnout"], now=AFTER
            )
            assert [s.item_key for s in summary] == ["single_burnout"]
            if summary[0].counts is not None:
                assert sum(c for _, c in summary[0].counts) == summary[0].mean.respondents
        pairs = [View(t.id) for t in org.teams] + [View()]
        for period in quarter_periods:
            compared = compare_views(session, viewer, pairs, period, now=AFTER)
            assert [row.view for row in compared][-1] == "Whole organisation"
    assert check_no_disclosure(shown, hidden, {"who5": K, "single_burnout": K, "text": K_COMMENTS}) > 0


WINDOW_OF = {
    **{(week, WEEK): n + 1 for n, week in enumerate(Q1.weeks())},
    **{(month.start, MONTH): 100 + n for n, month in enumerate(MONTHS)},
}


def _wid(week: date, rhythm: Granularity) -> int:
    """The generated window id behind a unit (weekly pulses 1–13, check-ins 100–102)."""
    return WINDOW_OF[(week, rhythm)]
