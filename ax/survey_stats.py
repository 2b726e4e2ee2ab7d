"""Survey results for leads and HR: group aggregates only, each one cleared by :mod:`ax.privacy`.

Every read takes ``(session, viewer, …)`` and asks :mod:`ax.access` first: an agent is refused
(their own answers live in :mod:`ax.surveys`), a lead sees the teams they lead, HR and admins the
whole organisation, its sites and every team. A refusal raises :class:`AccessDenied` and leaves
an audit entry.

How a number is made
    Each person is scored per survey window with :func:`ax.instruments.score` (WHO-5 from a
    complete set, CBI work from at least four of its seven items, …); a group's figure then
    aggregates those person-window scores. Windows are never merged into one person's score.
    A window counts in the week that holds its middle; weekly pulses are reported by week,
    monthly check-ins by month and quarter (see :data:`ax.privacy.COUNTS_IN` for why).
What is read
    The quarter that holds each asked period, for the whole organisation and only for the
    measures asked: whether one team's cell may be shown depends on its siblings, its parent
    and the other periods of that quarter, so the privacy rules need them. Rows are read into
    local variables of one call; individual answers never reach a returned object or a log line.
What is returned
    Frozen dataclasses of aggregates. A hidden figure has no value and no count, only a reason
    a person understands. Response rates (respondents ÷ members) are shown for any group and
    never say who did not answer.
Team deterioration flag
    An EWMA chart (λ = 0.3, L = 3 by default) on a team's weekly WHO-5 level: the WHO-5 score
    where a window asked all five items, else the mean of the WHO-5 items asked × 20 (the same
    0–100 scale). Only weeks with at least ``min_group_size`` respondents count; each week's
    team mean is first shrunk toward the organisation's mean of that week, so small teams are
    not flagged for noise and teams compare fairly. The first ``survey_baseline_weeks`` usable
    weeks set the team's usual level; a flag is raised while the EWMA sits below the lower
    limit. Only the flag and the week it began are returned, never the weekly means behind it.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from ax.access import AccessDenied, Viewer, check_team, require_role
from ax.instruments import (
    INSTRUMENTS,
    ITEMS,
    WHO5_ITEMS,
    AnswerError,
    InstrumentScore,
    Item,
    ItemKind,
    enps_score,
    group_mean,
    score,
    share_of_concern,
)
from ax.privacy import (
    COUNTS_IN,
    ORG,
    Granularity,
    OrgChart,
    Period,
    Reason,
    Release,
    TeamNode,
    comment_threshold,
    period_of,
    periods_ending,
    periods_in,
    plan_release,
    present_comments,
    quarter_of,
    team_key,
    week_start,
    window_week,
)
from ax.settings import Settings, get_settings
from ax.surveys import custom_items
from db.models import PulseAnswer, PulseSurvey, Role, SurveyDefinition, Team, TeamMembership
from db.types import utcnow

__all__ = [
    "AccessDenied",
    "CommentSet",
    "DeteriorationFlag",
    "EwmaResult",
    "Figure",
    "ItemSummary",
    "ResponseRate",
    "ScoreRow",
    "View",
    "ViewOption",
    "comments",
    "compare_views",
    "deterioration_flags",
    "ewma_signal",
    "item_summaries",
    "recent_periods",
    "response_rates",
    "shrink",
    "survey_scores",
    "views_for",
]

log = logging.getLogger(__name__)

SCORE_INSTRUMENTS = ("who5", "cbi_work", "single_burnout", "enps")
WHO5_KEYS = tuple(item.key for item in WHO5_ITEMS)
_CADENCE_RHYTHM = {"weekly": Granularity.week, "monthly": Granularity.month, "quarterly": Granularity.quarter}
_READ_ROLES = (Role.lead, Role.hr, Role.admin)

# --- what pages receive ----------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A filter: a team (with the teams below it), a site, both, or neither (the whole organisation)."""

    team_id: int | None = None
    site: str | None = None


@dataclass(frozen=True)
class ViewOption:
    """A view this viewer may ask for, with its label for a picker."""

    view: View
    label: str


@dataclass(frozen=True)
class Figure:
    """One aggregate a page may draw, or why it is hidden: never both."""

    value: float | None
    respondents: int | None
    reason: Reason | None = None
    message: str | None = None

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class ScoreRow:
    """A view's scores in one period; each figure passed the privacy rules on its own."""

    view: str
    period: Period
    who5_mean: Figure  # 0–100
    who5_low_share: Figure  # share (0–1) of WHO-5 scores below 52
    cbi_work_mean: Figure  # 0–100
    burnout_share: Figure  # share (0–1) of single-item answers ≥ 3
    enps: Figure  # −100…100


@dataclass(frozen=True)
class ItemSummary:
    """One question in one view and period: its mean and how many answers each option got."""

    view: str
    period: Period
    item_key: str
    question: str
    mean: Figure
    # (option, answers), every option listed; a person answering in two windows counts twice
    counts: tuple[tuple[int, int], ...] | None


@dataclass(frozen=True)
class CommentSet:
    """Free-text answers of a view and period: no author, no time, alphabetical; or why hidden."""

    view: str
    period: Period
    item_key: str
    question: str
    texts: tuple[str, ...] | None
    respondents: int | None
    reason: Reason | None = None
    message: str | None = None


@dataclass(frozen=True)
class ResponseRate:
    """Share of a view's members who answered at least one survey window in the period."""

    view: str
    period: Period
    members: int
    respondents: int | None  # None when the view has fewer members than the minimum group
    rate: float | None  # None for a view without members, or too small to show
    closed: bool  # False while the period or one of its windows is still open


@dataclass(frozen=True)
class DeteriorationFlag:
    """Whether a team's wellbeing has dropped below its usual range, and since when."""

    team_id: int
    team: str
    flagged: bool | None  # None: too few usable weeks to judge
    since: date | None  # Monday of the first week of the current signal
    weeks_used: int
    message: str


# --- access --------------------------------------------------------------------------------------


def _check_view(session: Session, viewer: Viewer, view: View) -> None:
    """Leads: their own teams (also split by site). Org-wide and site views: HR and admins."""
    require_role(session, viewer, *_READ_ROLES, action="view survey results as")
    if view.team_id is not None:
        check_team(session, viewer, view.team_id)
    else:
        require_role(
            session, viewer, Role.hr, Role.admin, action="view organisation or site survey results as"
        )


def views_for(session: Session, viewer: Viewer) -> list[ViewOption]:
    """The views a viewer may pick from: led teams for a lead; org, sites and all teams for HR."""
    require_role(session, viewer, *_READ_ROLES, action="view survey results as")
    chart = _chart(session)
    if viewer.role == Role.lead:
        team_ids = sorted(t for t in viewer.team_ids if t in chart.teams)
        return [ViewOption(View(team_id=t), chart.label(team_key(t))) for t in team_ids]
    options = [ViewOption(View(), chart.label(ORG))]
    options += [ViewOption(View(site=g.label), g.label) for g in chart.groups.values() if g.kind == "site"]
    options += [ViewOption(View(team_id=t), chart.label(team_key(t))) for t in sorted(chart.teams)]
    return options


# --- reading one quarter -------------------------------------------------------------------------


def _chart(session: Session) -> OrgChart:
    team = Team.__table__.c
    tm = TeamMembership.__table__.c
    teams = [
        TeamNode(row.id, row.name, row.parent_id, row.site)
        for row in session.execute(
            select(team.id, team.name, team.parent_id, team.site).where(team.deleted.is_(False))
        )
    ]
    members = session.execute(select(tm.team_id, tm.agent_id).where(tm.deleted.is_(False))).all()
    return OrgChart(teams, [(row.team_id, row.agent_id) for row in members])


@dataclass(frozen=True)
class _Window:
    id: int
    week: date
    rhythm: Granularity
    closes_at: datetime


def _utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _windows(session: Session, first: date, end: date, zone: ZoneInfo) -> list[_Window]:
    """Survey windows whose middle falls in [first, end) local days, with the rhythm they report at."""
    ps = PulseSurvey.__table__.c
    rows = session.execute(
        select(ps.id, ps.opens_at, ps.closes_at, ps.instrument, ps.definition_id).where(
            ps.opens_at < _utc(end, zone), ps.closes_at > _utc(first, zone)
        )
    ).all()
    definition_ids = {row.definition_id for row in rows if row.definition_id is not None}
    cadence: dict[int, str] = {}
    if definition_ids:
        sd = SurveyDefinition.__table__.c
        found = session.execute(select(sd.id, sd.cadence).where(sd.id.in_(definition_ids)))
        cadence = {row.id: row.cadence for row in found}
    windows = []
    for row in rows:
        week = window_week(row.opens_at, row.closes_at, zone)
        if first <= week < end:
            windows.append(
                _Window(row.id, week, _rhythm(row.instrument, cadence.get(row.definition_id)), row.closes_at)
            )
    return windows


def _rhythm(instrument: str, cadence: str | None) -> Granularity:
    """The definition's cadence; windows without one (CSV, demo): the pulse is weekly, others monthly."""
    if cadence in _CADENCE_RHYTHM:
        return _CADENCE_RHYTHM[cadence]
    return Granularity.week if instrument == "pulse" else Granularity.month


class _Quarter:
    """One quarter's rows for the measures asked: read once per call, never handed out."""

    def __init__(
        self,
        session: Session,
        chart: OrgChart,
        quarter: Period,
        settings: Settings,
        now: datetime,
    ) -> None:
        self.chart = chart
        self.quarter = quarter
        self.settings = settings
        zone = ZoneInfo(settings.timezone)
        self.windows = {w.id: w for w in _windows(session, quarter.start, quarter.end, zone)}
        today = now.astimezone(zone).date()
        self._released = {
            period: period.end <= today
            and all(
                w.closes_at <= now
                for w in self.windows.values()
                if period.holds(w.week) and period.granularity in COUNTS_IN[w.rhythm]
            )
            for period in periods_in(quarter)
        }
        self.numbers: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
        self.texts: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        self._releases: dict[str, Release] = {}
        self._values: dict[str, dict[tuple[int, int], object]] = {}
        self._group_values: dict[tuple[str, str], list[tuple[int, object]]] = {}

    def read(self, session: Session, item_keys: Iterable[str] = (), text_keys: Iterable[str] = ()) -> None:
        """Read the answers to these questions (numbers) and free-text questions of the quarter."""
        item_keys, text_keys = set(item_keys), set(text_keys)
        if not self.windows or not (item_keys or text_keys):
            return
        # one row per person and window, one column per question (answers are unique per the three):
        # several times fewer rows to fetch, and the same values as reading them one by one
        pa = PulseAnswer.__table__.c
        keys = sorted(item_keys | text_keys)
        text_order = [k for k in keys if k in text_keys]
        rows = session.execute(
            select(
                pa.agent_id,
                pa.survey_id,
                *[func.max(case((pa.item_key == k, pa.value))) for k in keys],
                *[func.max(case((pa.item_key == k, pa.text))) for k in text_order],
            )
            .where(pa.survey_id.in_(list(self.windows)), pa.deleted.is_(False), pa.item_key.in_(keys))
            .group_by(pa.survey_id, pa.agent_id)  # the unique index's order: no sort
        ).all()
        for agent_id, survey_id, *found in rows:
            unit = (agent_id, survey_id)
            texts = {k: t for k, t in zip(text_order, found[len(keys) :], strict=True) if t and t.strip()}
            numbers = {
                k: v
                for k, v in zip(keys, found[: len(keys)], strict=True)
                if v is not None and k in item_keys and k not in texts
            }
            if texts:
                self.texts[unit].update(texts)
            if numbers:
                self.numbers[unit].update(numbers)

    def released(self, period: Period) -> bool:
        return self._released[period]

    def values(self, measure: str) -> dict[tuple[int, int], object]:
        """(person, window) → that person's score, answer or comment for the measure, in that window."""
        if measure not in self._values:
            self._values[measure] = self._compute(measure)
        return self._values[measure]

    def _compute(self, measure: str) -> dict[tuple[int, int], object]:
        kind, _, key = measure.partition(":")
        found: dict[tuple[int, int], object] = {}
        if kind == "score":
            scored = _scorer(key)
            for unit, answers in self.numbers.items():
                result = scored(answers)
                if result is not None:
                    found[unit] = result
        elif kind == "item":
            found = {unit: answers[key] for unit, answers in self.numbers.items() if key in answers}
        elif kind == "text":
            found = {unit: texts[key] for unit, texts in self.texts.items() if key in texts}
        else:
            raise ValueError(f"unknown measure {measure!r}")
        return found

    def release(self, measure: str) -> Release:
        if measure not in self._releases:
            units = {
                (agent, self.windows[w].week, self.windows[w].rhythm) for agent, w in self.values(measure)
            }
            k = self.settings.min_group_size
            if measure.startswith("text:"):
                k = comment_threshold(k, self.settings.min_comment_group_size)
            self._releases[measure] = plan_release(
                self.chart, self.quarter, units, threshold=k, released=self.released
            )
        return self._releases[measure]

    def cell(self, measure: str, group: str, period: Period) -> tuple[list[object], Figure]:
        """The values behind one cell and an empty figure carrying its decision (values only if shown)."""
        decision = self.release(measure).decision(group, period)
        if not decision.visible:
            return [], Figure(None, None, decision.reason, decision.message)
        values = [
            value
            for w, value in self._of_group(measure, group)
            if period.holds(self.windows[w].week) and period.granularity in COUNTS_IN[self.windows[w].rhythm]
        ]
        return values, Figure(None, decision.respondents)

    def _of_group(self, measure: str, group: str) -> list[tuple[int, object]]:
        """(window, value) of the group's members: picked once, then filtered per period."""
        if (measure, group) not in self._group_values:
            members = self.chart.members(group)
            self._group_values[(measure, group)] = [
                (w, value) for (agent, w), value in self.values(measure).items() if agent in members
            ]
        return self._group_values[(measure, group)]


def _scorer(instrument: str) -> Callable[[Mapping[str, float]], InstrumentScore | None]:
    """:func:`ax.instruments.score` (None for a value the instrument does not allow), computed once per
    distinct set of answers to the instrument's items.

    Thousands of person-windows share a few hundred answer sets, and scoring validates every
    answer: looked up, the result is the same, only cheaper.
    """
    keys = INSTRUMENTS[instrument].item_keys
    seen: dict[tuple, InstrumentScore | None] = {}

    def run(answers: Mapping[str, float]) -> InstrumentScore | None:
        key = tuple(map(answers.get, keys))
        if key not in seen:
            try:
                seen[key] = score(instrument, answers)
            except AnswerError:  # a stored value the instrument does not allow: not scored
                seen[key] = None
        return seen[key]

    return run


def _settings_now(now: datetime | None) -> tuple[Settings, datetime]:
    return get_settings(), (now or utcnow()).astimezone(UTC)


def _by_quarter(periods: Sequence[Period]) -> dict[Period, list[Period]]:
    blocks: dict[Period, list[Period]] = defaultdict(list)
    for period in periods:
        if not isinstance(period, Period):
            raise TypeError("periods are ax.privacy.Period values (week, month or quarter)")
        blocks[quarter_of(period)].append(period)
    return blocks


def _figure(values: list[Any], base: Figure, compute: Callable[[list[Any]], float]) -> Figure:
    """Fill in a shown figure's value; a hidden one stays as it is, without a value."""
    if base.respondents is None:
        return base
    return Figure(float(compute(values)), base.respondents)


# --- scores, items, comments, response rates --------------------------------------------------


def survey_scores(
    session: Session,
    viewer: Viewer,
    view: View,
    periods: Sequence[Period],
    *,
    now: datetime | None = None,
) -> list[ScoreRow]:
    """Scores of one view over periods (a trend): WHO-5 mean and share < 52, CBI work mean,
    share with single-item burnout ≥ 3, eNPS. Periods come from :func:`ax.privacy.periods_ending`."""
    _check_view(session, viewer, view)
    rows = _score_rows(session, [view], periods, now)
    return [rows[(view, period)] for period in periods]


def compare_views(
    session: Session,
    viewer: Viewer,
    views: Sequence[View],
    period: Period,
    *,
    now: datetime | None = None,
) -> list[ScoreRow]:
    """Scores of several views side by side (team vs team, team vs parent, site vs site).

    Safe to compare because every figure comes from the same decisions: two shown views whose
    answers are nested always differ by at least ``min_group_size`` people.
    """
    for view in views:
        _check_view(session, viewer, view)
    rows = _score_rows(session, list(views), [period], now)
    return [rows[(view, period)] for view in views]


def _score_rows(
    session: Session, views: list[View], periods: Sequence[Period], now: datetime | None
) -> dict[tuple[View, Period], ScoreRow]:
    settings, moment = _settings_now(now)
    chart = _chart(session)
    keys = {view: chart.view_key(view.team_id, view.site) for view in views}
    item_keys = {key for instrument in SCORE_INSTRUMENTS for key in INSTRUMENTS[instrument].item_keys}
    rows: dict[tuple[View, Period], ScoreRow] = {}
    for quarter, asked in _by_quarter(periods).items():
        data = _Quarter(session, chart, quarter, settings, moment)
        data.read(session, item_keys)
        for view in views:
            group = keys[view]
            for period in asked:
                who5, who5_base = data.cell("score:who5", group, period)
                cbi, cbi_base = data.cell("score:cbi_work", group, period)
                single, single_base = data.cell("score:single_burnout", group, period)
                enps, enps_base = data.cell("score:enps", group, period)
                rows[(view, period)] = ScoreRow(
                    view=_view_label(chart, view),
                    period=period,
                    who5_mean=_figure(who5, who5_base, lambda v: group_mean(s.value for s in v)),
                    who5_low_share=_figure(who5, who5_base, share_of_concern),
                    cbi_work_mean=_figure(cbi, cbi_base, lambda v: group_mean(s.value for s in v)),
                    burnout_share=_figure(single, single_base, share_of_concern),
                    enps=_figure(enps, enps_base, lambda v: enps_score(s.value for s in v)),
                )
    return rows


def _view_label(chart: OrgChart, view: View) -> str:
    key = chart.view_key(view.team_id, view.site)
    if key in chart.groups:
        return chart.label(key)
    team = chart.label(team_key(view.team_id)) if view.team_id is not None else "Organisation"
    return f"{team} at {view.site}"


def item_summaries(
    session: Session,
    viewer: Viewer,
    view: View,
    period: Period,
    *,
    items: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[ItemSummary]:
    """Per question: mean and option counts in one view and period (default: every question asked)."""
    _check_view(session, viewer, view)
    settings, moment = _settings_now(now)
    chart = _chart(session)
    data = _Quarter(session, chart, quarter_of(period), settings, moment)
    catalogue = _catalogue(session, data.windows)
    keys = [k for k in (items if items is not None else catalogue) if k in catalogue]
    numeric = [k for k in keys if catalogue[k].kind is not ItemKind.TEXT]
    data.read(session, numeric)
    group = chart.view_key(view.team_id, view.site)
    summaries = []
    for key in numeric:
        item = catalogue[key]
        values, base = data.cell(f"item:{key}", group, period)
        counts = None
        mean = base
        if base.respondents is not None:
            mean = Figure(group_mean(values), base.respondents)
            options = {option: 0 for option in range(item.min, item.max + 1)}
            for value in values:
                options[int(value)] = options.get(int(value), 0) + 1
            counts = tuple(sorted(options.items()))
        summaries.append(ItemSummary(_view_label(chart, view), period, key, item.text, mean, counts))
    return summaries


def comments(
    session: Session,
    viewer: Viewer,
    view: View,
    period: Period,
    item_key: str,
    *,
    now: datetime | None = None,
) -> CommentSet:
    """The free-text answers to one question, shown only for ``min_comment_group_size`` commenters."""
    _check_view(session, viewer, view)
    settings, moment = _settings_now(now)
    chart = _chart(session)
    data = _Quarter(session, chart, quarter_of(period), settings, moment)
    item = _catalogue(session, data.windows).get(item_key) or ITEMS.get(item_key)
    if item is None or item.kind is not ItemKind.TEXT:
        raise ValueError(f"{item_key!r} is not a free-text question")
    data.read(session, text_keys=[item_key])
    texts, base = data.cell(f"text:{item_key}", chart.view_key(view.team_id, view.site), period)
    label = _view_label(chart, view)
    if base.respondents is None:
        return CommentSet(label, period, item_key, item.text, None, None, base.reason, base.message)
    shown = present_comments(str(text) for text in texts)
    return CommentSet(label, period, item_key, item.text, shown, base.respondents)


def _catalogue(session: Session, windows: Mapping[int, _Window]) -> dict[str, Item]:
    """The questions answered in these windows: built-in ones, and custom ones by their definition."""
    if not windows:
        return {}
    pa = PulseAnswer.__table__.c
    ps = PulseSurvey.__table__.c
    ids = list(windows)
    keys = {k for (k,) in session.execute(select(pa.item_key).where(pa.survey_id.in_(ids)).distinct())}
    definition_ids = {
        d
        for (d,) in session.execute(select(ps.definition_id).where(ps.id.in_(ids)).distinct())
        if d is not None
    }
    custom: dict[str, Item] = {}
    if definition_ids:
        sd = SurveyDefinition.__table__.c
        for (raw,) in session.execute(select(sd.custom_items).where(sd.id.in_(definition_ids))):
            custom.update(custom_items(raw))  # parsed as the survey form parses them
    found: dict[str, Item] = {}
    for key in sorted(keys):
        item = ITEMS.get(key) or custom.get(key)
        if item is not None:
            found[key] = item
        else:
            log.info("survey results: question %s has no definition; left out", key)
    return found


def response_rates(
    session: Session,
    viewer: Viewer,
    view: View,
    periods: Sequence[Period],
    *,
    now: datetime | None = None,
) -> list[ResponseRate]:
    """Respondents ÷ members per period, for any view the viewer may see; counts only, no names.

    A view with fewer members than the minimum group shows no count and no rate: in a team of
    two, "1 of 2 answered" tells each of them whether the other did.
    """
    _check_view(session, viewer, view)
    settings, moment = _settings_now(now)
    chart = _chart(session)
    zone = ZoneInfo(settings.timezone)
    members = chart.members(chart.view_key(view.team_id, view.site))
    label = _view_label(chart, view)
    pa = PulseAnswer.__table__.c
    results = []
    for period in periods:
        windows = _windows(session, period.start, period.end, zone)
        answered: set[int] = set()
        if windows and members:
            query = (
                select(pa.agent_id)
                .where(pa.survey_id.in_([w.id for w in windows]), pa.deleted.is_(False))
                .distinct()
            )
            answered = {agent for (agent,) in session.execute(query)} & members
        closed = period.end <= moment.astimezone(zone).date() and all(w.closes_at <= moment for w in windows)
        if len(members) < settings.min_group_size:
            results.append(ResponseRate(label, period, len(members), None, None, closed))
            continue
        rate = len(answered) / len(members)
        results.append(ResponseRate(label, period, len(members), len(answered), rate, closed))
    return results


# --- deterioration flag ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EwmaResult:
    """An EWMA control chart over a series: the pure part of the deterioration flag."""

    flagged: bool
    since: int | None  # index in the series of the first point of the current signal
    center: float
    sigma: float
    ewma: tuple[float, ...]  # one per point after the baseline
    lower: tuple[float, ...]


def ewma_signal(
    series: Sequence[float],
    *,
    lam: float = 0.3,
    limit: float = 3.0,
    baseline: int = 8,
    sigma_floor: float = 0.0,
) -> EwmaResult | None:
    """EWMA chart, lower side: the first ``baseline`` points set centre and σ; None if nothing is left.

    z₀ = centre, zₜ = λ·xₜ + (1 − λ)·zₜ₋₁, lower limit centre − L·σ·√(λ/(2 − λ)·(1 − (1 − λ)²ᵗ)).
    σ is the baseline's standard deviation, at least ``sigma_floor`` (a flat baseline would
    otherwise flag any dip).
    """
    if baseline < 2 or len(series) <= baseline:
        return None
    base = [float(x) for x in series[:baseline]]
    center = statistics.fmean(base)
    sigma = max(statistics.stdev(base), sigma_floor)
    z = center
    ewma: list[float] = []
    lower: list[float] = []
    for t, x in enumerate(series[baseline:], start=1):
        z = lam * float(x) + (1 - lam) * z
        ewma.append(z)
        lower.append(center - limit * sigma * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t))))
    signals = [z < low for z, low in zip(ewma, lower, strict=True)]
    since = None
    if signals[-1]:
        first = len(signals) - 1
        while first > 0 and signals[first - 1]:
            first -= 1
        since = baseline + first
    return EwmaResult(signals[-1], since, center, sigma, tuple(ewma), tuple(lower))


def shrink(mean: float, n: int, org_mean: float, weight: float) -> float:
    """A team's mean pulled toward the org's, as if ``weight`` org-average answers joined its ``n``."""
    return (n * mean + weight * org_mean) / (n + weight)


def deterioration_flags(
    session: Session,
    viewer: Viewer,
    *,
    team_ids: Sequence[int] | None = None,
    weeks: int = 26,
    now: datetime | None = None,
) -> list[DeteriorationFlag]:
    """The deterioration flag of each team asked (default: a lead's teams; every team for HR).

    Reads the WHO-5 answers of the last ``weeks`` whole weeks, organisation-wide (the org mean is
    what small teams are shrunk toward).
    """
    require_role(session, viewer, *_READ_ROLES, action="view survey results as")
    if team_ids is None and viewer.role == Role.lead:
        team_ids = sorted(viewer.team_ids)
    for team_id in team_ids or ():
        check_team(session, viewer, team_id)
    settings, moment = _settings_now(now)
    chart = _chart(session)
    asked = [t for t in (team_ids if team_ids is not None else sorted(chart.teams)) if t in chart.teams]
    zone = ZoneInfo(settings.timezone)
    today = moment.astimezone(zone).date()
    last = week_start(today) - timedelta(days=7)  # the last whole week
    first = last - timedelta(days=7 * (weeks - 1))
    windows = [w for w in _windows(session, first, last + timedelta(days=7), zone) if w.closes_at <= moment]
    levels = _weekly_levels(session, windows)  # (agent, week) → level
    org_members = chart.members(ORG)
    k = settings.min_group_size
    by_week: dict[date, dict[int, float]] = defaultdict(dict)
    for (agent, week), level in levels.items():
        if agent in org_members:
            by_week[week][agent] = level
    org_mean = {week: statistics.fmean(values.values()) for week, values in by_week.items()}
    flags = []
    for team_id in asked:
        members = chart.members(team_key(team_id))
        series: list[float] = []
        used: list[date] = []
        noise: list[float] = []
        for week in sorted(by_week):
            values = [v for agent, v in by_week[week].items() if agent in members]
            if len(values) < k:
                continue
            n, mean = len(values), statistics.fmean(values)
            weight = settings.survey_shrink_weight
            series.append(shrink(mean, n, org_mean[week], weight))
            used.append(week)
            noise.append((n / (n + weight)) ** 2 * statistics.variance(values) / n)
        baseline = settings.survey_baseline_weeks
        floor = math.sqrt(statistics.fmean(noise[:baseline])) if len(noise) >= baseline else 0.0
        result = ewma_signal(
            series,
            lam=settings.survey_ewma_lambda,
            limit=settings.survey_ewma_limit,
            baseline=baseline,
            sigma_floor=floor,
        )
        flags.append(_flag(team_id, chart.label(team_key(team_id)), result, used, baseline, k))
    return flags


def _weekly_levels(session: Session, windows: list[_Window]) -> dict[tuple[int, date], float]:
    """Each person's WHO-5 level per week: per window first, then the mean of their windows that week.

    A window's level is its WHO-5 score where it asked all five items (raw sum × 4), else 20 × the
    mean of the items asked; a window holding a value WHO-5 does not allow (not a whole number
    in the item's range) has no level, as :func:`ax.instruments.score` refuses it. Counted and
    summed per person and window in SQL: the org's half year is tens of thousands of answers.
    """
    if not windows:
        return {}
    pa = PulseAnswer.__table__.c
    week_of = {w.id: w.week for w in windows}
    allowed = or_(
        *[and_(pa.item_key == item.key, pa.value >= item.min, pa.value <= item.max) for item in WHO5_ITEMS]
    )
    invalid = func.sum(case((and_(allowed, pa.value == func.round(pa.value)), 0), else_=1))
    rows = session.execute(
        select(pa.agent_id, pa.survey_id, func.count(), func.sum(pa.value), invalid)
        .where(
            pa.survey_id.in_(list(week_of)),
            pa.deleted.is_(False),
            pa.item_key.in_(WHO5_KEYS),
            pa.value.is_not(None),
        )
        .group_by(pa.survey_id, pa.agent_id)
    ).all()
    per_week: dict[tuple[int, date], list[float]] = defaultdict(list)
    for agent, window, answered, total, bad in rows:
        if bad:
            continue
        # the same arithmetic as the score (4 × sum) and as statistics.fmean (sum ÷ n) of whole numbers
        level = 4 * float(total) if answered == len(WHO5_ITEMS) else 20 * (float(total) / answered)
        per_week[(agent, week_of[window])].append(level)
    return {unit: statistics.fmean(values) for unit, values in per_week.items()}


def _flag(
    team_id: int, name: str, result: EwmaResult | None, used: list[date], baseline: int, k: int
) -> DeteriorationFlag:
    if result is None:
        message = (
            f"Not enough weeks to judge yet: needs more than {baseline} weeks in which at least {k} "
            f"people answered WHO-5 questions (has {len(used)})."
        )
        return DeteriorationFlag(team_id, name, None, None, len(used), message)
    if result.flagged and result.since is not None:
        since = used[result.since]
        message = (
            f"Wellbeing (WHO-5, weekly) has been below this team's usual range since the week of "
            f"{since:%d %b %Y}. A prompt to talk with the team, not a diagnosis."
        )
        return DeteriorationFlag(team_id, name, True, since, len(used), message)
    message = "Wellbeing (WHO-5, weekly) is within this team's usual range."
    return DeteriorationFlag(team_id, name, False, None, len(used), message)


def recent_periods(
    granularity: Granularity | str, count: int, *, now: datetime | None = None
) -> list[Period]:
    """The last ``count`` whole periods before the current one (org timezone), oldest first."""
    settings, moment = _settings_now(now)
    today = moment.astimezone(ZoneInfo(settings.timezone)).date()
    return periods_ending(period_of(today, granularity).start - timedelta(days=1), granularity, count)
