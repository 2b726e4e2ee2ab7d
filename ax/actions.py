"""What leads did about an alert or a survey result, and the team's "you said, we did".

A lead records an action for a team they lead (validated: not empty, at most
:data:`TEXT_MAX` characters, an alert only of that team); every recording is audited (its id,
team, subject and length, not its words). Shared actions are shown to the agents of that team;
an action about an alert on one person is never shared: "moved Ana off phones" answers an alert
about Ana, and the rest of the team would learn from it that she was flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from ax.access import Viewer, check_team, require_role
from ax.audit import record_event
from ax.workload import teams_of_agent
from db.models import Alert, Role, Team, TeamAction, User
from db.types import utcnow

TEXT_MAX = 500
ABOUT = {"alert": "An alert", "survey": "A survey result", "other": "Something else"}


class ActionError(ValueError):
    """An action that cannot be recorded; the message says what to fix."""


@dataclass(frozen=True)
class ActionView:
    id: int
    team: str
    at: datetime
    about: str
    text: str
    shared: bool
    by: str
    alert_text: str | None = None  # leads only


def clean_text(text: str | None) -> str:
    """The action's words, trimmed; refuse empty or over-long text with a message a person can act on."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise ActionError("Describe what you did (the text is empty).")
    if len(cleaned) > TEXT_MAX:
        raise ActionError(f"Keep it to {TEXT_MAX} characters (this is {len(cleaned)}).")
    return cleaned


def record_action(
    session: Session,
    viewer: Viewer,
    team_id: int,
    text: str | None,
    *,
    about: str,
    alert_id: int | None = None,
    shared: bool = True,
    now: datetime | None = None,
) -> ActionView:
    """Store what a lead did for one of their teams, audited, and commit."""
    require_role(session, viewer, Role.lead, action="record team actions as")
    check_team(session, viewer, team_id)
    cleaned = clean_text(text)
    if about not in ABOUT:
        raise ActionError(f"Pick what the action is about ({', '.join(ABOUT)}).")
    alert = None
    if alert_id is not None:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.team_id != team_id:
            raise ActionError("That alert is not one of this team's alerts.")
        about = "alert"
        shared = shared and alert.agent_id is None
    action = TeamAction(
        team_id=team_id,
        created_by=viewer.user_id,
        created_at=now or utcnow(),
        about=about,
        alert_id=alert_id,
        text=cleaned,
        shared=shared,
    )
    session.add(action)
    session.flush()
    record_event(
        session,
        viewer=viewer,
        action="team_action_recorded",
        target=f"team {team_id}",
        details={
            "action_id": action.id,
            "about": about,
            "alert_id": alert_id,
            "shared": shared,
            "chars": len(cleaned),
        },
    )
    session.commit()
    team = session.get(Team, team_id)
    return ActionView(
        action.id,
        team.name if team else str(team_id),
        action.created_at,
        about,
        cleaned,
        shared,
        viewer.display_name,
        alert.text if alert else None,
    )


def _views(session: Session, team_ids: set[int], *, shared_only: bool, limit: int) -> list[ActionView]:
    ta = TeamAction.__table__.c
    tt = Team.__table__.c
    us = User.__table__.c
    al = Alert.__table__.c
    query = (
        select(
            ta.id,
            tt.name,
            ta.created_at,
            ta.about,
            ta.text,
            ta.shared,
            us.display_name,
            al.text.label("alert"),
        )
        .join(Team.__table__, tt.id == ta.team_id)
        .join(User.__table__, us.id == ta.created_by)
        .outerjoin(Alert.__table__, al.id == ta.alert_id)
        .where(ta.team_id.in_(team_ids or {-1}))
        .order_by(ta.created_at.desc(), ta.id.desc())
        .limit(limit)
    )
    if shared_only:
        query = query.where(ta.shared.is_(True))
    return [
        ActionView(
            r.id,
            r.name,
            r.created_at,
            r.about,
            r.text,
            r.shared,
            r.display_name,
            None if shared_only else r.alert,
        )
        for r in session.execute(query)
    ]


def team_actions(session: Session, viewer: Viewer, team_id: int, *, limit: int = 50) -> list[ActionView]:
    """A team's recorded actions for its leads, shared or not, with the alert each one answered."""
    require_role(session, viewer, Role.lead, action="view team actions as")
    check_team(session, viewer, team_id)
    return _views(session, {team_id}, shared_only=False, limit=limit)


def you_said_we_did(session: Session, viewer: Viewer, *, limit: int = 50) -> list[ActionView]:
    """The shared actions of the agent's own teams: what their leads did, not which alert prompted it."""
    require_role(session, viewer, Role.agent, action="read 'you said, we did' as")
    if viewer.agent_id is None:
        return []
    return _views(session, teams_of_agent(session, viewer.agent_id), shared_only=True, limit=limit)
