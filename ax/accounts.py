"""Local accounts: create users, sign in with throttling and lock-out, build the viewer."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from ax.access import Viewer
from ax.audit import record_event
from ax.passwords import hash_password, verify_password
from ax.settings import get_settings
from db.models import Agent, LeadTeam, Role, User
from db.types import utcnow


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    agent_id: int | None = None,
    lead_team_ids: list[int] | None = None,
    is_demo: bool = False,
) -> User:
    if role == Role.agent and agent_id is None:
        raise ValueError("an agent account must be linked to an agent")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        agent_id=agent_id,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    for team_id in lead_team_ids or []:
        session.add(LeadTeam(user_id=user.id, team_id=team_id))
    return user


def viewer_for(session: Session, user: User) -> Viewer:
    team_ids = frozenset(session.exec(select(LeadTeam.team_id).where(LeadTeam.user_id == user.id)).all())
    timezone = user.timezone
    if timezone is None and user.agent_id is not None:
        agent = session.get(Agent, user.agent_id)
        timezone = agent.timezone if agent else None
    return Viewer(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        agent_id=user.agent_id,
        team_ids=team_ids,
        timezone=timezone or get_settings().timezone,
    )


def sign_in(session: Session, username: str, password: str) -> Viewer:
    """Check a password; count failures and lock the account after too many."""
    settings = get_settings()
    refused = SignInError("Unknown user name or wrong password.")
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise refused
    now = utcnow()
    if user.disabled:
        raise SignInError("This account is disabled. Ask an administrator.")
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise SignInError(f"Too many failed sign-ins. Try again in {minutes} min.")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            record_event(session, viewer=None, action="account_locked", target=user.username)
        session.add(user)
        session.commit()
        raise refused
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    viewer = viewer_for(session, user)
    record_event(session, viewer=viewer, action="sign_in")
    session.commit()
    return viewer


def demo_users_exist(session: Session) -> bool:
    return session.exec(select(User.id).where(User.is_demo == True)).first() is not None  # noqa: E712


def list_demo_accounts(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.is_demo == True).order_by(User.id)).all())  # noqa: E712
