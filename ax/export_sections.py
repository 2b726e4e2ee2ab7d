"""The tables of an HR export, read page by page: workload, risk levels, survey results, response
rates and actions taken (see :mod:`ax.exports` for what each holds and why it is safe to show).

Nothing is read until a writer asks a section for its pages. Team sections read ``TEAM_PAGE``
teams at a time, one grouped query per month, so a page is at most teams x months rows however
long the history; survey sections read one month (or one group) at a time through
:mod:`ax.survey_stats`, which alone decides which survey figures may be shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlmodel import Session

from ax.privacy import Granularity, Period, Reason, quarter_of
from ax.settings import get_settings
from ax.survey_stats import Figure, ScoreRow, compare_views, response_rates
from db.models import AgentDay, AgentRisk, TeamAction, TeamDay, TeamMembership

if TYPE_CHECKING:
    from ax.exports import Month, Plan, TeamChoice

TEAM_PAGE = 50  # teams read per query
SUPPRESSED = "suppressed"  # what a hidden cell holds, in every format
RISK_RANK = {"low": 0, "elevated": 1, "high": 2}


class Kind(StrEnum):
    """How a column is formatted: writers use it for number formats and alignment."""

    text = "text"
    count = "count"
    number = "number"  # one decimal
    percent = "percent"  # 0–100, one decimal


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.count


Row = tuple[Any, ...]


@dataclass
class Section:
    """One table of the export; ``pages`` yields lists of rows so writers can stream them."""

    key: str
    title: str
    note: str
    columns: tuple[Column, ...]
    steps: int  # pages it yields, for progress
    pages: Callable[[], Iterator[list[Row]]]


def sections(session: Session, plan: Plan) -> list[Section]:
    """The export's tables in order; nothing is read until a writer asks for a section's pages."""
    k = get_settings().min_group_size
    months = plan.request.months
    team_pages = max(1, -(-len(plan.teams) // TEAM_PAGE)) * len(months)
    return [
        Section(
            "workload",
            "Workload by team and month",
            "Work data of each team's own members; months are calendar months of the team's days.",
            WORKLOAD_COLUMNS,
            team_pages,
            lambda: _paged(session, plan, _workload_rows),
        ),
        Section(
            "risk",
            "Burnout risk levels by team and month",
            f"Agents by the highest workload-only risk level they reached in the month. Teams with fewer "
            f"than {k} agents with a level show no counts, so no one can be picked out.",
            RISK_COLUMNS,
            team_pages,
            lambda: _paged(session, plan, lambda s, ids, names, m: _risk_rows(s, ids, names, m, k)),
        ),
        Section(
            "survey",
            "Survey results by group and month",
            f"Aggregates shown only for at least {k} respondents, with the next-smallest group also hidden "
            "where needed; a team's figures include the teams below it. Weekly pulses are reported by week, "
            "monthly check-ins by month and quarter (survey periods are whole weeks).",
            SURVEY_COLUMNS,
            len(months),
            lambda: _survey_pages(session, plan),
        ),
        Section(
            "responses",
            "Survey response rates by group and month",
            f"Share of members who answered at least one survey; groups under {k} members show no count.",
            RESPONSE_COLUMNS,
            len(plan.views),
            lambda: _response_pages(session, plan),
        ),
        Section(
            "actions",
            "Actions taken by team and month",
            "What leads recorded doing about an alert or a survey result and shared with their team. "
            "Actions answering an alert about one person are never shared, and not exported.",
            ACTION_COLUMNS,
            team_pages,
            lambda: _paged(
                session, plan, lambda s, ids, names, m: _action_rows(s, ids, names, m, plan.viewer.timezone)
            ),
        ),
    ]


def _paged(
    session: Session,
    plan: Plan,
    read: Callable[[Session, list[int], dict[int, TeamChoice], Month], list[Row]],
) -> Iterator[list[Row]]:
    """One page per month per ``TEAM_PAGE`` teams: a page never holds more than a month of those
    teams, however long the period or large the organisation. Within a page, rows go by team."""
    for start in range(0, max(1, len(plan.teams)), TEAM_PAGE):
        chunk = plan.teams[start : start + TEAM_PAGE]
        names = {t.id: t for t in chunk}
        for month in plan.request.months:
            rows = read(session, list(names), names, month)
            rows.sort(key=lambda row: row[0])  # stable: actions keep their order within a team
            yield rows


WORKLOAD_COLUMNS = (
    Column("Team", Kind.text),
    Column("Site", Kind.text),
    Column("Month", Kind.text),
    Column("Agents"),
    Column("Contacts"),
    Column("Handle hours", Kind.number),
    Column("AHT (min)", Kind.number),
    Column("Occupancy %", Kind.percent),
    Column("Overtime hours", Kind.number),
    Column("Hard contacts %", Kind.percent),
    Column("Back-to-back contacts"),
    Column("Agent-days over occupancy ceiling"),
)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else round(100 * float(part) / float(whole), 1)


def _workload_rows(session: Session, ids: list[int], teams: dict[int, TeamChoice], month: Month) -> list[Row]:
    td = TeamDay.__table__.c
    ad = AgentDay.__table__.c
    tm = TeamMembership.__table__.c
    span = (month.first, month.next.first)
    totals = session.execute(
        select(
            td.team_id,
            func.sum(td.contacts),
            func.sum(td.handle_seconds),
            func.sum(td.occupancy * td.on_queue_seconds),
            func.sum(case((td.occupancy.is_not(None), td.on_queue_seconds), else_=0)),
            func.sum(td.overtime_seconds),
            func.sum(td.hard_contacts),
            func.sum(td.back_to_back),
            func.sum(td.agents_over_occupancy),
        )
        .where(td.team_id.in_(ids), td.day >= span[0], td.day < span[1])
        .group_by(td.team_id)
    ).all()
    agents = dict(
        session.execute(
            select(tm.team_id, func.count(func.distinct(ad.agent_id)))
            .select_from(AgentDay.__table__.join(TeamMembership.__table__, tm.agent_id == ad.agent_id))
            .where(tm.team_id.in_(ids), tm.deleted.is_(False), ad.day >= span[0], ad.day < span[1])
            .group_by(tm.team_id)
        ).all()
    )
    rows = []
    for team_id, contacts, handle, busy, on_queue, overtime, hard, b2b, over in totals:
        team = teams[team_id]
        rows.append(
            (
                team.name,
                team.site,
                month.label,
                int(agents.get(team_id, 0)),
                int(contacts or 0),
                _round((handle or 0) / 3600),
                _round(handle / contacts / 60) if contacts else None,
                _share(busy, on_queue),
                _round(overtime / 3600) if overtime is not None else None,
                _share(hard, contacts),
                int(b2b or 0),
                int(over or 0),
            )
        )
    return rows


RISK_COLUMNS = (
    Column("Team", Kind.text),
    Column("Site", Kind.text),
    Column("Month", Kind.text),
    Column("Agents with a level"),
    Column("Low"),
    Column("Elevated"),
    Column("High"),
    Column("Note", Kind.text),
)


def _risk_rows(
    session: Session, ids: list[int], teams: dict[int, TeamChoice], month: Month, threshold: int
) -> list[Row]:
    ar = AgentRisk.__table__.c
    tm = TeamMembership.__table__.c
    rank = case(*((ar.level == level, n) for level, n in RISK_RANK.items()), else_=0)
    highest = (
        select(tm.team_id.label("team_id"), ar.agent_id, func.max(rank).label("rank"))
        .select_from(AgentRisk.__table__.join(TeamMembership.__table__, tm.agent_id == ar.agent_id))
        .where(tm.team_id.in_(ids), tm.deleted.is_(False), ar.day >= month.first, ar.day < month.next.first)
        .group_by(tm.team_id, ar.agent_id)
        .subquery()
    )
    counted = session.execute(
        select(
            highest.c.team_id,
            func.count(),
            *(func.sum(case((highest.c.rank == n, 1), else_=0)) for n in RISK_RANK.values()),
        ).group_by(highest.c.team_id)
    ).all()
    rows = []
    for team_id, agents, low, elevated, high in counted:
        team = teams[team_id]
        if agents < threshold:
            note = f"Fewer than {threshold} agents with a risk level: counts hidden."
            rows.append(
                (team.name, team.site, month.label, SUPPRESSED, SUPPRESSED, SUPPRESSED, SUPPRESSED, note)
            )
        else:
            rows.append(
                (team.name, team.site, month.label, int(agents), int(low), int(elevated), int(high), None)
            )
    return rows


SURVEY_COLUMNS = (
    Column("Group", Kind.text),
    Column("Month", Kind.text),
    Column("Survey period", Kind.text),
    Column("WHO-5 mean (0-100)", Kind.number),
    Column("WHO-5 respondents"),
    Column("WHO-5 below 52 %", Kind.percent),
    Column("CBI work mean (0-100)", Kind.number),
    Column("Single-item burnout %", Kind.percent),
    Column("eNPS", Kind.number),
    Column("Note", Kind.text),
)


def _cell(figure: Figure, scale: float = 1.0) -> Any:
    """A shown figure's value; blank when no one answered; otherwise the word for a hidden figure."""
    if figure.value is None:
        return None if figure.reason is Reason.no_answers else SUPPRESSED
    return round(figure.value * scale, 1)


def survey_periods(month: Month) -> list[Period]:
    """The survey periods reported under a month: its weeks, the month, and its quarter at the end.

    Each answer counts at its survey's rhythm (:data:`ax.privacy.COUNTS_IN`): weekly pulses only
    in weeks, monthly check-ins in months and quarters, quarterly surveys in quarters.
    """
    period = month.survey_period
    periods = [Period(Granularity.week, monday) for monday in period.weeks()] + [period]
    quarter = quarter_of(period)
    if quarter.end == period.end:
        periods.append(quarter)
    return periods


def _survey_pages(session: Session, plan: Plan) -> Iterator[list[Row]]:
    """One page per month: every group side by side, all cleared by the same privacy decisions.

    Periods in which no one in any group answered are left out.
    """
    labels = [label for label, _ in plan.views]
    views = [view for _, view in plan.views]
    for month in plan.request.months:
        rows = []
        for period in survey_periods(month):
            scores = compare_views(session, plan.viewer, views, period)
            if all(_unanswered(score) for score in scores):
                continue
            rows.extend(
                _score_row(label, month, period, score) for label, score in zip(labels, scores, strict=True)
            )
        yield rows


def _figures(score: ScoreRow) -> tuple[Figure, ...]:
    return (score.who5_mean, score.who5_low_share, score.cbi_work_mean, score.burnout_share, score.enps)


def _unanswered(score: ScoreRow) -> bool:
    return all(f.value is None and f.reason is Reason.no_answers for f in _figures(score))


def _score_row(label: str, month: Month, period: Period, score: ScoreRow) -> Row:
    hidden = {f.message for f in _figures(score) if f.value is None and f.reason is not Reason.no_answers}
    who5 = score.who5_mean
    return (
        label,
        month.label,
        period.label,
        _cell(who5),
        who5.respondents if who5.shown else _cell(who5),
        _cell(score.who5_low_share, 100),
        _cell(score.cbi_work_mean),
        _cell(score.burnout_share, 100),
        _cell(score.enps),
        " ".join(sorted(m for m in hidden if m)) or None,
    )


RESPONSE_COLUMNS = (
    Column("Group", Kind.text),
    Column("Month", Kind.text),
    Column("Survey month", Kind.text),
    Column("Members"),
    Column("Respondents"),
    Column("Response rate %", Kind.percent),
    Column("Note", Kind.text),
)


def _response_pages(session: Session, plan: Plan) -> Iterator[list[Row]]:
    k = get_settings().min_group_size
    months = plan.request.months
    periods = [m.survey_period for m in months]
    for label, view in plan.views:
        rows = []
        for month, rate in zip(months, response_rates(session, plan.viewer, view, periods), strict=True):
            note = None if rate.closed else "Survey still open: the rate may still rise."
            if rate.rate is None:
                note = f"Fewer than {k} members: not shown." if rate.members else "No members."
            rows.append(
                (
                    label,
                    month.label,
                    rate.period.label,
                    rate.members,
                    SUPPRESSED if rate.respondents is None else rate.respondents,
                    SUPPRESSED if rate.rate is None else round(100 * rate.rate, 1),
                    note,
                )
            )
        yield rows


ACTION_COLUMNS = (
    Column("Team", Kind.text),
    Column("Site", Kind.text),
    Column("Month", Kind.text),
    Column("Recorded on", Kind.text),
    Column("About", Kind.text),
    Column("Action", Kind.text),
)
ABOUT_LABELS = {"alert": "An alert", "survey": "A survey result", "other": "Something else"}


def _action_rows(
    session: Session, ids: list[int], teams: dict[int, TeamChoice], month: Month, timezone: str
) -> list[Row]:
    """Actions shared with the team ("you said, we did"); one answering an alert on one person is
    never shared, so it is not exported either. Months and dates in the viewer's timezone."""
    zone = ZoneInfo(timezone)
    ta = TeamAction.__table__.c
    start = datetime.combine(month.first, time(), zone)
    end = datetime.combine(month.next.first, time(), zone)
    found = session.execute(
        select(ta.team_id, ta.created_at, ta.about, ta.text)
        .where(ta.team_id.in_(ids), ta.shared.is_(True), ta.created_at >= start, ta.created_at < end)
        .order_by(ta.created_at, ta.id)
    ).all()
    return [
        (
            teams[row.team_id].name,
            teams[row.team_id].site,
            month.label,
            row.created_at.astimezone(zone).date().isoformat(),
            ABOUT_LABELS.get(row.about, row.about),
            row.text,
        )
        for row in found
    ]
