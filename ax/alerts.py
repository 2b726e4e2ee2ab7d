"""Lead alerts: sustained overload and rising burnout risk, raised once per condition per day.

Conditions (read from ``agent_day`` and ``agent_risk``, which the compute writes; nothing here
reads a survey answer, so no alert, e-mail or channel message can carry one)
    overload
        An agent's occupancy above ``occupancy_alert`` on their latest working day and on at least
        ``sustained_days`` of their last 5 working days (:func:`ax.team_view.recent_signal_counts`,
        the numbers the overview shows).
    risk_rising
        An agent's stored, workload-only risk level on their latest day is elevated or high, and
        higher than it was a week before.
    Under ``AX_PRIVACY_PROFILE=team_only`` the same conditions are raised per team as counts
    ("3 agents …"), with no agent attached, and per-agent alerts raised earlier are not shown.

Once per day
    An alert's ``dedupe_key`` is ``alert:<kind>:<team>:<agent or team>:<org-local day>``, unique in
    the table and inserted with ``ON CONFLICT DO NOTHING``: a rerun, a second worker or a
    condition that holds all day raises it once; if it still holds tomorrow it is raised again.
Delivery
    Each new alert becomes an in-app notification for every lead of the team (the sidebar shows
    it), also e-mailed to leads with an address when ``AX_ALERT_EMAIL`` and SMTP are set up; and
    one message to the leads' channel (``AX_ALERT_WEBHOOK_URL``, Slack or Microsoft Teams) that
    names the team and the condition, never a person. Delivery reuses :mod:`ax.notify` (one retry
    on the next run, secrets never stored or logged).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import exists, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from ax.access import Viewer, check_team, require_role
from ax.notify import Email, Outgoing, claim_retries, deliver, email_configured, retryable, webhook_configured
from ax.risk import Level
from ax.settings import Settings, get_settings
from ax.survey_windows import insert_missing
from ax.team_view import CURRENT_WITHIN, RECENT_DAYS, SIGNALS, per_agent_allowed, recent_signal_counts
from db.models import (
    Agent,
    AgentRisk,
    Alert,
    LeadTeam,
    Notification,
    Role,
    Team,
    TeamAction,
    TeamMembership,
    User,
)
from db.types import utcnow

log = logging.getLogger("ax.alerts")

OVERLOAD, RISK_RISING = "overload", "risk_rising"
ALERT_KIND = "alert"  # notification.kind of a lead's in-app (and e-mailed) alert
CHANNEL_KIND = "alert_channel"  # notification.kind of the leads' channel message
_RANK = {Level.low.value: 0, Level.elevated.value: 1, Level.high.value: 2}
RISK_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Draft:
    """A condition found now; becomes an :class:`Alert` unless raised already today."""

    team_id: int
    team: str
    agent_id: int | None
    kind: str
    day: date
    text: str  # for the lead: may name the agent (per-agent profile only)
    channel_text: str  # for the leads' channel: the team and the condition, no name

    @property
    def key(self) -> str:
        return f"alert:{self.kind}:{self.team_id}:{self.agent_id or 'team'}:{self.day.isoformat()}"


# --- finding conditions ------------------------------------------------------------------------------


def _teams(session: Session) -> dict[int, tuple[str, list[tuple[int, str]]]]:
    """Team id → (name, [(agent id, name)]) of every team with members."""
    tm = TeamMembership.__table__.c
    ag = Agent.__table__.c
    tt = Team.__table__.c
    rows = session.execute(
        select(tt.id, tt.name, ag.id, ag.name)
        .join(TeamMembership.__table__, tm.team_id == tt.id)
        .join(Agent.__table__, ag.id == tm.agent_id)
        .where(tt.deleted.is_(False), tm.deleted.is_(False), ag.deleted.is_(False), ag.active.is_(True))
        .order_by(tt.id, ag.name)
    )
    teams: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    for team_id, team_name, agent_id, agent_name in rows:
        teams.setdefault(team_id, (team_name, []))[1].append((agent_id, agent_name))
    return teams


def _rising_risk(session: Session, agent_ids: list[int], today: date) -> pd.DataFrame:
    """Agents whose latest (recent) level is elevated or high and above their level a week earlier."""
    r = AgentRisk.__table__.c
    since = today - CURRENT_WITHIN - RISK_LOOKBACK - timedelta(days=7)
    frame = pd.DataFrame(
        session.execute(
            select(r.agent_id, r.day, r.level, r.drivers).where(r.agent_id.in_(agent_ids), r.day >= since)
        ).all(),
        columns=["agent_id", "day", "level", "drivers"],
    )
    out = []
    for agent_id, rows in frame.sort_values("day").groupby("agent_id"):
        latest = rows.iloc[-1]
        if latest["day"] < today - CURRENT_WITHIN or _RANK.get(latest["level"], 0) < 1:
            continue
        before = rows[rows["day"] <= latest["day"] - RISK_LOOKBACK]
        earlier = before.iloc[-1]["level"] if not before.empty else Level.low.value
        if _RANK[latest["level"]] > _RANK.get(earlier, 0):
            drivers = [d["text"] for d in json.loads(latest["drivers"] or "[]")]
            out.append((agent_id, earlier, latest["level"], "; ".join(drivers)))
    return pd.DataFrame(out, columns=["agent_id", "was", "level", "drivers"])


def find_conditions(session: Session, now: datetime, today: date, settings: Settings) -> list[Draft]:
    """Every alert condition that holds at ``now``, on ``today`` (org-local), per team."""
    per_agent = per_agent_allowed(settings)
    occupancy = SIGNALS[0]
    drafts: list[Draft] = []
    for team_id, (team, members) in _teams(session).items():
        names = dict(members)
        ids = list(names)
        counts = recent_signal_counts(session, ids, today, settings, now)
        over = counts[
            (counts["signal"] == occupancy.key)
            & counts["now_above"].astype(bool)
            & (counts["days_above"] >= settings.sustained_days)
        ]
        rising = _rising_risk(session, ids, today)
        if per_agent:
            for row in over.itertuples():
                days = f"{row.days_above} of the last {row.of_days} working days"
                what = f"{occupancy.describe(settings)} on {days}"
                drafts.append(
                    Draft(
                        team_id,
                        team,
                        int(row.agent_id),
                        OVERLOAD,
                        today,
                        f"{team}: {names[row.agent_id]} has had {what}. Consider a break or lighter work.",
                        f"AX alert · {team}: an agent has had {what}. Open AX to see who and act.",
                    )
                )
            for row in rising.itertuples():
                drafts.append(
                    Draft(
                        team_id,
                        team,
                        int(row.agent_id),
                        RISK_RISING,
                        today,
                        f"{team}: {names[row.agent_id]}'s burnout risk (workload only) rose from {row.was} "
                        f"to {row.level}: {row.drivers}. A prompt to talk, not a diagnosis.",
                        f"AX alert · {team}: an agent's workload-based burnout risk rose to {row.level}. "
                        "Open AX to see who and act.",
                    )
                )
        else:
            if not over.empty:
                n = len(over)
                text = (
                    f"{team}: {n} agent{'s have' if n > 1 else ' has'} had {occupancy.describe(settings)} on "
                    f"{settings.sustained_days} or more of the last {RECENT_DAYS} working days."
                )
                drafts.append(Draft(team_id, team, None, OVERLOAD, today, text, f"AX alert · {text}"))
            if not rising.empty:
                n = len(rising)
                text = (
                    f"{team}: the workload-based burnout risk of {n} agent{'s' if n > 1 else ''} rose "
                    "this week. A prompt to look at the team's load, not a diagnosis."
                )
                drafts.append(Draft(team_id, team, None, RISK_RISING, today, text, f"AX alert · {text}"))
    return drafts


# --- the worker job ---------------------------------------------------------------------------------


def _leads(session: Session) -> dict[int, list[tuple[int, str | None]]]:
    """Team id → [(lead user id, e-mail)] of enabled lead accounts."""
    rows = session.execute(
        select(LeadTeam.team_id, User.id, User.email)
        .join(User, col(User.id) == col(LeadTeam.user_id))
        .where(col(User.disabled).is_(False), col(User.role) == "lead")
        .order_by(col(User.id))
    )
    leads: dict[int, list[tuple[int, str | None]]] = {}
    for team_id, user_id, email in rows:
        leads.setdefault(team_id, []).append((user_id, email))
    return leads


def _email_body(text: str, link: str | None) -> str:
    lines = [text, ""]
    if link:
        lines += [f"See the team overview and record what you did: {link}", ""]
    lines.append("Sent by AX from workload data only; survey answers are never part of an alert.")
    return "\n".join(lines)


def _channel_settings(settings: Settings) -> Settings:
    """:func:`ax.notify.deliver` posts to ``reminder_webhook_url``; alerts go to the leads' channel."""
    return settings.model_copy(update={"reminder_webhook_url": settings.alert_webhook_url})


def _notification(key: str, kind: str, text: str, now: datetime, user_id: int | None) -> dict:
    return {
        "dedupe_key": key,
        "kind": kind,
        "text": text,
        "created_at": now,
        "agent_id": None,
        "user_id": user_id,
    }


def run_alerts(engine: Engine, now: datetime | None = None, *, settings: Settings | None = None) -> int:
    """Worker job ``alerts``: raise today's new conditions, notify the leads; returns alerts raised."""
    settings = settings or get_settings()
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    channel = _channel_settings(settings)
    mail = settings.alert_email and email_configured(settings)
    hook = webhook_configured(channel)
    with Session(engine, expire_on_commit=False) as session:
        drafts = find_conditions(session, now, today, settings)
        leads = _leads(session) if drafts else {}
        retries = _retries(session, now, channel) if mail or hook else []
    if retries:
        deliver(engine, claim_retries(engine, retries), settings=channel, now=now, final=True)
    if not drafts:
        return 0
    with engine.begin() as conn:
        raised = insert_missing(
            conn,
            Alert.__table__,
            "dedupe_key",
            [
                {
                    "team_id": d.team_id,
                    "agent_id": d.agent_id,
                    "kind": d.kind,
                    "day": d.day,
                    "text": d.text,
                    "dedupe_key": d.key,
                    "created_at": now,
                }
                for d in drafts
            ],
        )
    new = {key for _, key in raised}
    rows: list[dict] = []
    outgoing: dict[str, Outgoing] = {}
    for draft in drafts:
        if draft.key not in new:
            continue
        for user_id, address in leads.get(draft.team_id, []):
            key = f"{draft.key}:user:{user_id}"
            rows.append(_notification(key, ALERT_KIND, draft.text, now, user_id))
            if mail and address:
                subject = f"AX alert: {draft.team}"
                outgoing[key] = Outgoing(
                    0, draft.text, Email(address, subject, _email_body(draft.text, settings.dashboard_url))
                )
        if hook:
            key = f"{draft.key}:channel"
            rows.append(_notification(key, CHANNEL_KIND, draft.channel_text, now, None))
            outgoing[key] = Outgoing(0, draft.channel_text)
    created: list[tuple[int, str]] = []
    if rows:
        with engine.begin() as conn:
            created = insert_missing(conn, Notification.__table__, "dedupe_key", rows)
    to_send = [Outgoing(i, o.text, o.email) for i, key in created if (o := outgoing.get(key)) is not None]
    if to_send:
        deliver(engine, to_send, settings=channel, now=now, final=False)
    log.info("alerts: %d conditions, %d new, %d notifications", len(drafts), len(new), len(created))
    return len(new)


def _retries(session: Session, now: datetime, settings: Settings) -> list[Outgoing]:
    """Alert deliveries of the last day that failed once: retried once, from the stored row."""
    failed = session.exec(
        select(Notification, User.email)
        .outerjoin(User, col(User.id) == col(Notification.user_id))
        .where(
            col(Notification.kind).in_((ALERT_KIND, CHANNEL_KIND)),
            col(Notification.created_at) >= now - timedelta(days=1),
            col(Notification.sent_at).is_(None),
            retryable(),
        )
    ).all()
    out = []
    for note, address in failed:
        if note.kind == CHANNEL_KIND:
            out.append(Outgoing(note.id, note.text))
        elif address:
            email = Email(address, "AX alert", _email_body(note.text, settings.dashboard_url))
            out.append(Outgoing(note.id, note.text, email))
    return out


# --- what leads read ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    id: int
    team_id: int
    kind: str
    day: date
    text: str
    about_agent: bool
    acted: bool  # a lead recorded an action about it


def team_alerts(
    session: Session, viewer: Viewer, team_id: int, *, days: int = 7, open_only: bool = False
) -> list[AlertView]:
    """The team's alerts of the last ``days`` days, newest first; team-level only under ``team_only``."""
    require_role(session, viewer, Role.lead, action="view alerts as")
    check_team(session, viewer, team_id)
    a = Alert.__table__.c
    ta = TeamAction.__table__.c
    acted = exists().where(ta.alert_id == a.id)
    query = (
        select(a.id, a.team_id, a.kind, a.day, a.text, a.agent_id, acted.label("acted"))
        .where(a.team_id == team_id, a.day >= utcnow().date() - timedelta(days=days))
        .order_by(a.day.desc(), a.id.desc())
    )
    if not per_agent_allowed():
        query = query.where(a.agent_id.is_(None))
    if open_only:
        query = query.where(~acted)
    return [
        AlertView(r.id, r.team_id, r.kind, r.day, r.text, r.agent_id is not None, bool(r.acted))
        for r in session.execute(query)
    ]
