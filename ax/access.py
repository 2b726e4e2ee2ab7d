"""The one place that answers "may this viewer see this?". Pages and exports only ask.

Every read in ``ax/`` takes a :class:`Viewer` and calls one of these checks first; a refusal
raises :class:`AccessDenied` and leaves an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from ax.audit import record_event
from db.models import Role


class AccessDenied(PermissionError):
    """The viewer asked for something their role does not cover."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: resolved once at sign-in, passed to every read."""

    user_id: int
    username: str
    display_name: str
    role: Role
    agent_id: int | None = None
    team_ids: frozenset[int] = field(default_factory=frozenset)  # teams a lead leads
    timezone: str = "UTC"

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.role.value})"


def _refuse(session: Session, viewer: Viewer, action: str, target: str) -> AccessDenied:
    record_event(session, viewer=viewer, action="access_denied", target=target, details={"asked": action})
    session.commit()
    return AccessDenied(f"{viewer.username} ({viewer.role.value}) may not {action} {target}")


def require_role(session: Session, viewer: Viewer, *roles: Role, action: str) -> None:
    if viewer.role not in roles:
        raise _refuse(session, viewer, action, f"(needs role {' or '.join(r.value for r in roles)})")


def check_agent(session: Session, viewer: Viewer, agent_id: int, *, team_ids_of_agent: set[int]) -> None:
    """Agents see themselves; leads see agents in teams they lead; HR and admins see no individuals."""
    if viewer.role == Role.agent and viewer.agent_id == agent_id:
        return
    if viewer.role == Role.lead and viewer.team_ids & team_ids_of_agent:
        return
    raise _refuse(session, viewer, "view the workload of", f"agent {agent_id}")


def check_self(session: Session, viewer: Viewer, action: str) -> int:
    """Only an agent, about themself (their own survey-informed numbers); returns their agent id."""
    if viewer.role == Role.agent and viewer.agent_id is not None:
        return viewer.agent_id
    raise _refuse(session, viewer, action, "another person's personal data")


def check_team(session: Session, viewer: Viewer, team_id: int) -> None:
    """Leads see the teams they lead; HR and admins see every team's aggregates."""
    if viewer.role in (Role.hr, Role.admin):
        return
    if viewer.role == Role.lead and team_id in viewer.team_ids:
        return
    raise _refuse(session, viewer, "view", f"team {team_id}")
