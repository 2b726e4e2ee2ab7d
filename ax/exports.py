"""HR exports: organisation-wide summaries by team and month, as CSV, XLSX or a PDF report.

The same numbers, and the same privacy rules, as on screen. What an export holds:

Workload (``team_day`` and ``agent_day``)
    Per team and calendar month: agents, contacts, handle hours, AHT, occupancy, overtime, share
    of hard contacts, back-to-back contacts, agent-days above the occupancy ceiling. Work data,
    shown for every team.
Risk levels (``agent_risk``, workload-only)
    Per team and month, how many agents reached each level at least once (their highest level of
    the month). A team-month with fewer than ``min_group_size`` agents with a level shows no counts:
    "2 agents high" in a team of three points at people. Rows are always whole teams (one team's
    own members, never a team plus the teams below it) and there is no total row, so no hidden
    count can be worked out by subtracting one row from another.
Survey results and response rates
    Only through :mod:`ax.survey_stats` (and so :mod:`ax.privacy`): the filter's own group, then
    each team (with the teams below it, as the privacy rules group people). A hidden figure is
    written as ``suppressed`` with the reason, in every format.
Actions taken
    What leads recorded (``ax.actions``), per team and month.

A viewer asks for an :class:`ExportRequest` (months, team, site); :func:`prepare` checks it and
says in words what is wrong. Sections yield their rows page by page (a page of teams at a time),
so writers can stream them out and memory stays bounded however long the history is. Every
export is audited with its filters and row count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from ax.access import Viewer, check_team, require_role
from ax.audit import record_event
from ax.export_sections import sections
from ax.privacy import Granularity, Period, period_of
from ax.settings import get_settings
from ax.survey_stats import View
from db.models import PulseSurvey, Role, Team, TeamDay
from db.types import utcnow

MAX_MONTHS = 36  # longer ranges are split: a three-year summary is already a big report
EXPORT_ROLES = (Role.hr, Role.admin)
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class ExportError(ValueError):
    """A request that cannot be exported, with a sentence saying what to change."""


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    pdf = "pdf"


# --- the request --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str, what: str = "month") -> Month:
        match = _MONTH.match(text or "")
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ExportError(f"{what} {text!r} is not a month: write it as YYYY-MM, e.g. 2026-03")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def survey_period(self) -> Period:
        """The survey month (whole ISO weeks, see :mod:`ax.privacy`) that holds this month's middle."""
        return period_of(date(self.year, self.month, 15), Granularity.month)


def months_between(first: Month, last: Month) -> list[Month]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next
    return months


@dataclass(frozen=True)
class ExportRequest:
    """What to export: months ``first``..``last`` (inclusive), optionally one team and one site."""

    first: Month
    last: Month
    team_id: int | None = None
    site: str | None = None

    @property
    def months(self) -> list[Month]:
        return months_between(self.first, self.last)

    def describe(self) -> dict[str, Any]:
        """The filters, for the audit log and the report's header."""
        return {"from": self.first.label, "to": self.last.label, "team_id": self.team_id, "site": self.site}


def parse_request(
    session: Session, first: str, last: str | None = None, *, team: str | None = None, site: str | None = None
) -> ExportRequest:
    """A request from text (CLI options, URL parameters): months as YYYY-MM, team by name or id."""
    start = Month.parse(first, "from")
    end = Month.parse(last, "to") if last else start
    return ExportRequest(start, end, _team_id(session, team), (site or "").strip() or None)


def _team_id(session: Session, text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    tt = Team.__table__.c
    found = session.execute(select(tt.id).where(tt.name == text, tt.deleted.is_(False))).scalars().all()
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ExportError(f"several teams are called {text!r}: give the team's id instead")
    if text.isdigit():
        return int(text)
    names = sorted(session.execute(select(tt.name).where(tt.deleted.is_(False))).scalars())
    raise ExportError(f"no team called {text!r}; teams: {', '.join(names[:20]) or 'none yet'}")


# --- what the viewer may pick ----------------------------------------------------------------


@dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str
    site: str | None  # the team's own site, or the nearest parent's


@dataclass(frozen=True)
class ExportOptions:
    teams: list[TeamChoice]
    sites: list[str]
    first_month: Month | None  # the first and last months with workload data (None: no data)
    last_month: Month | None
    current_month: Month  # in the organisation's timezone: no export reaches past it


def export_options(session: Session, viewer: Viewer) -> ExportOptions:
    """The teams, sites and months an HR or admin viewer can filter an export by."""
    require_role(session, viewer, *EXPORT_ROLES, action="export organisation summaries as")
    return _options(session)


def _options(session: Session) -> ExportOptions:
    teams = _teams(session)
    td = TeamDay.__table__.c
    low, high = session.execute(select(func.min(td.day), func.max(td.day))).one()
    today = datetime.now(ZoneInfo(get_settings().timezone)).date()
    return ExportOptions(
        teams=teams,
        sites=sorted({t.site for t in teams if t.site}),
        first_month=Month.of(low) if low else None,
        last_month=Month.of(high) if high else None,
        current_month=Month.of(today),
    )


def _teams(session: Session) -> list[TeamChoice]:
    """Every live team with its inherited site (a team without one takes its nearest parent's)."""
    tt = Team.__table__.c
    rows = session.execute(select(tt.id, tt.name, tt.site, tt.parent_id).where(tt.deleted.is_(False))).all()
    by_id = {row.id: row for row in rows}

    def site_of(team_id: int) -> str | None:
        seen: set[int] = set()
        current: int | None = team_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            if by_id[current].site:
                return by_id[current].site
            current = by_id[current].parent_id
        return None

    return sorted((TeamChoice(r.id, r.name, site_of(r.id)) for r in rows), key=lambda t: (t.name, t.id))


def _subtree(teams: Sequence[TeamChoice], session: Session, root: int) -> set[int]:
    tt = Team.__table__.c
    parent = dict(session.execute(select(tt.id, tt.parent_id).where(tt.deleted.is_(False))).all())
    found, stack = {root}, [root]
    while stack:
        current = stack.pop()
        for child, up in parent.items():
            if up == current and child not in found:
                found.add(child)
                stack.append(child)
    return found & {t.id for t in teams}


# --- checking a request ----------------------------------------------------------------------


@dataclass
class Plan:
    """A checked request: the teams its rows cover and what the report says about its filters."""

    request: ExportRequest
    viewer: Viewer  # the survey sections read through ax.survey_stats as this viewer
    teams: list[TeamChoice]
    scope: str  # "Whole organisation", "Site Lisbon", "Team Billing (and teams below it)", ...
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def views(self) -> list[tuple[str, View]]:
        """Survey groups: the filter's own group first, then each team (with the teams below it)."""
        own = View(self.request.team_id, self.request.site)
        views = [(self.scope, own)]
        for team in self.teams:
            view = View(team.id, self.request.site)
            if view != own:
                views.append(
                    (team.name if not self.request.site else f"{team.name} at {self.request.site}", view)
                )
        return views


def prepare(session: Session, viewer: Viewer, request: ExportRequest) -> Plan:
    """Check the request (role, team, site, months) and work out the teams it covers."""
    require_role(session, viewer, *EXPORT_ROLES, action="export organisation summaries as")
    if request.team_id is not None:
        check_team(session, viewer, request.team_id)
    return _plan(session, viewer, request)


def _plan(session: Session, viewer: Viewer, request: ExportRequest) -> Plan:
    options = _options(session)
    if request.first > request.last:
        raise ExportError(f"the period starts ({request.first.label}) after it ends ({request.last.label})")
    if request.last > options.current_month:
        raise ExportError(
            f"{request.last.label} has not started yet; the latest month to export is "
            f"{options.current_month.label}"
        )
    if len(request.months) > MAX_MONTHS:
        raise ExportError(
            f"{len(request.months)} months is more than one export holds (at most {MAX_MONTHS}); "
            "split it into several exports"
        )
    teams = options.teams
    scope = "Whole organisation"
    if request.team_id is not None:
        root = next((t for t in teams if t.id == request.team_id), None)
        if root is None:
            raise ExportError(f"team {request.team_id} does not exist (or was removed)")
        below = _subtree(teams, session, root.id)
        teams = [t for t in teams if t.id in below]
        scope = f"{root.name} (and teams below it)" if len(below) > 1 else root.name
    if request.site is not None:
        if request.site not in options.sites:
            known = ", ".join(options.sites) or "none are set"
            raise ExportError(f"no team works at site {request.site!r} (sites: {known})")
        teams = [t for t in teams if t.site == request.site]
        if not teams:
            raise ExportError(f"{scope} has no team at site {request.site}: drop one of the two filters")
        scope = f"{scope} at {request.site}" if request.team_id is not None else f"Site {request.site}"
    plan = Plan(request, viewer, teams, scope)
    if not _has_data(session, plan):
        span = (
            f"workload data runs from {options.first_month.label} to {options.last_month.label}"
            if options.first_month and options.last_month
            else "there is no workload data yet (run `ax sync` or load `ax demo`)"
        )
        raise ExportError(
            f"nothing to export for {scope} from {request.first.label} to {request.last.label}: {span}"
        )
    return plan


def _has_data(session: Session, plan: Plan) -> bool:
    first, end = plan.request.first.first, plan.request.last.next.first
    td = TeamDay.__table__.c
    ids = [t.id for t in plan.teams]
    workload = session.execute(
        select(td.team_id).where(td.team_id.in_(ids), td.day >= first, td.day < end).limit(1)
    ).first()
    if workload is not None:
        return True
    ps = PulseSurvey.__table__.c
    return (
        session.execute(
            select(ps.id).where(ps.opens_at < _midnight(end), ps.closes_at > _midnight(first)).limit(1)
        ).first()
        is not None
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(get_settings().timezone))


# --- running an export ---------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ExportResult:
    rows: int
    format: Format
    filename: str


def filename(plan: Plan, fmt: Format) -> str:
    scope = re.sub(r"[^A-Za-z0-9]+", "-", plan.scope).strip("-").lower() or "organisation"
    return f"ax-hr-{scope}-{plan.request.first.label}-to-{plan.request.last.label}.{fmt.value}"


def run_export(
    session: Session,
    viewer: Viewer,
    request: ExportRequest,
    fmt: Format | str,
    out: Any,
    *,
    progress: Progress | None = None,
) -> ExportResult:
    """Check, write and audit one export by a signed-in HR or admin viewer into ``out`` (a binary file)."""
    from ax.export_formats import write  # the writers import this module's types

    plan = prepare(session, viewer, request)
    fmt = Format(fmt)
    rows = write(fmt, plan, sections(session, plan), out, progress or (lambda *_: None))
    details = {**request.describe(), "format": fmt.value, "rows": rows, "scope": plan.scope}
    record_event(session, viewer=viewer, action="export", target=f"HR summary ({fmt.value})", details=details)
    session.commit()
    return ExportResult(rows, fmt, filename(plan, fmt))


def cli_viewer(actor: str) -> Viewer:
    """Who runs ``ax export``: shell access to the store is an administrator's. There is no account
    behind it (``user_id`` is None), so the audit log names the operating-system user."""
    return Viewer(
        user_id=None,  # type: ignore[arg-type]
        username=f"cli:{actor}"[:80],
        display_name=actor,
        role=Role.admin,
        timezone=get_settings().timezone,
    )
