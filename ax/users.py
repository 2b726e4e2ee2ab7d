"""User administration for the ``ax users`` commands: add, set a role, disable, reset a password, list.

Every change is written to the audit log with the acting OS user, and every refusal is a
:class:`UserAdminError` whose message is one line that names what to fix.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from ax.accounts import SSO_ONLY, create_user
from ax.audit import record_event
from ax.passwords import hash_password
from db.models import Agent, LeadTeam, Role, Team, User
from db.types import utcnow

MIN_PASSWORD_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 5
ROLES = ", ".join(r.value for r in Role)


class UserAdminError(ValueError):
    """A refused change; the message is one line that is safe to print (never a secret)."""


@dataclass(frozen=True)
class UserRow:
    """One account as ``ax users list`` shows it: no hash, no secret."""

    username: str
    display_name: str
    email: str | None
    role: str
    teams: list[str]
    agent: str | None
    sign_in: str  # password | sso (no password, role set here) | sso-idp (made by SSO, role from the IdP)
    status: str  # active | disabled | locked

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def acting_user() -> str:
    """Who runs the command, for the audit log: the OS user (the sudo caller first), else "cli"."""
    name = os.environ.get("SUDO_USER")
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # no USER/LOGNAME and no passwd entry (e.g. an arbitrary container uid)
            name = None
    return name or "cli"


def check_password(password: str, *, username: str) -> None:
    """Refuse passwords that are easy to guess: short, few distinct characters, or the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserAdminError(f"password too weak: it needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise UserAdminError(
            f"password too weak: it needs at least {MIN_DISTINCT_CHARACTERS} different characters"
        )
    if username and username.casefold() in password.casefold():
        raise UserAdminError("password too weak: it must not contain the user name")


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UserAdminError(f"unknown role {value!r}: use one of {ROLES}") from None


def find_user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise UserAdminError(f"no user named {username!r} (see `ax users list`)")
    return user


def find_agent(session: Session, ref: str) -> Agent:
    """An agent by e-mail, external id, or SOURCE:EXTERNAL_ID when the first two are ambiguous."""
    ref = ref.strip()
    if not ref:
        raise UserAdminError("--agent needs an e-mail or an external id")
    source, _, external_id = ref.partition(":")
    found = session.exec(
        select(Agent).where(
            Agent.deleted == False,  # noqa: E712
            (func.lower(Agent.email) == ref.lower())
            | (Agent.external_id == ref)
            | ((Agent.source == source) & (Agent.external_id == external_id)),
        )
    ).all()
    if not found:
        raise UserAdminError(f"no agent with e-mail or id {ref!r} (see `ax status` for the sources)")
    if len(found) > 1:
        keys = ", ".join(sorted(f"{a.source}:{a.external_id}" for a in found))
        raise UserAdminError(f"several agents match {ref!r} ({keys}): give SOURCE:ID")
    return found[0]


def find_teams(session: Session, refs: Iterable[str]) -> list[Team]:
    """Teams by name (any case), external id, or SOURCE:EXTERNAL_ID when a name is ambiguous."""
    teams: dict[int, Team] = {}
    for raw in refs:
        ref = raw.strip()
        source, _, external_id = ref.partition(":")
        found = session.exec(
            select(Team).where(
                Team.deleted == False,  # noqa: E712
                (func.lower(Team.name) == ref.lower())
                | (Team.external_id == ref)
                | ((Team.source == source) & (Team.external_id == external_id)),
            )
        ).all()
        if not found:
            raise UserAdminError(f"no team named {ref!r}")
        if len(found) > 1:
            keys = ", ".join(sorted(f"{t.source}:{t.external_id}" for t in found))
            raise UserAdminError(f"several teams match {ref!r} ({keys}): give SOURCE:ID")
        teams[found[0].id] = found[0]  # type: ignore[index]
    return list(teams.values())


def _check_username(session: Session, username: str) -> str:
    username = username.strip()
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise UserAdminError("a user name needs 1 to 80 characters and no spaces")
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise UserAdminError(f"user name {username!r} is taken")
    return username


def _check_email(session: Session, email: str | None, *, user_id: int | None = None) -> str | None:
    """E-mails are unique (any case): single sign-on finds the account by its e-mail."""
    if email is None or not email.strip():
        return None
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(ch.isspace() for ch in email):
        raise UserAdminError(f"{email!r} is not an e-mail address")
    other = session.exec(
        select(User).where(func.lower(User.email) == email.lower(), User.id != user_id)
    ).first()
    if other is not None:
        raise UserAdminError(f"e-mail {email} already belongs to user {other.username!r}")
    return email


def _check_agent_free(session: Session, agent: Agent, *, user_id: int | None = None) -> None:
    other = session.exec(select(User).where(User.agent_id == agent.id, User.id != user_id)).first()
    if other is not None:
        raise UserAdminError(
            f"agent {agent.email or agent.external_id} is already linked to {other.username!r}"
        )


def _role_links(
    session: Session, role: Role, agent_ref: str | None, team_refs: Sequence[str]
) -> tuple[Agent | None, list[Team]]:
    """The agent and teams a role may carry: an agent account its agent, a lead their teams."""
    if team_refs and role != Role.lead:
        raise UserAdminError("only leads have teams: drop --team or use the role lead")
    if agent_ref and role != Role.agent:
        raise UserAdminError(
            "only an agent account is linked to an agent: drop --agent or use the role agent"
        )
    agent = find_agent(session, agent_ref) if agent_ref else None
    return agent, find_teams(session, team_refs)


@dataclass(frozen=True)
class NewUser:
    """A checked ``add``: every lookup done, nothing written yet."""

    username: str
    role: Role
    email: str | None
    agent: Agent | None
    teams: list[Team]


def check_new_user(
    session: Session,
    *,
    username: str,
    role: str,
    email: str | None = None,
    agent: str | None = None,
    teams: Sequence[str] = (),
) -> NewUser:
    """Everything ``add`` would refuse, checked before anyone is asked for a password."""
    parsed = parse_role(role)
    username = _check_username(session, username)
    linked_agent, lead_teams = _role_links(session, parsed, agent, teams)
    if parsed == Role.agent and linked_agent is None:
        raise UserAdminError("an agent account needs --agent EMAIL_OR_ID (the agent it belongs to)")
    if linked_agent is not None:
        _check_agent_free(session, linked_agent)
        email = email or linked_agent.email
    return NewUser(username, parsed, _check_email(session, email), linked_agent, lead_teams)


def add_user(
    session: Session,
    *,
    username: str,
    role: str,
    actor: str,
    display_name: str | None = None,
    email: str | None = None,
    password: str | None = None,
    agent: str | None = None,
    teams: Sequence[str] = (),
) -> User:
    """Add a local account; without a password it can only sign in through single sign-on."""
    new = check_new_user(session, username=username, role=role, email=email, agent=agent, teams=teams)
    if password is not None:
        check_password(password, username=new.username)
    user = create_user(
        session,
        username=new.username,
        password=password,
        role=new.role,
        display_name=(display_name or "").strip() or (new.agent.name if new.agent else new.username),
        email=new.email,
        agent_id=new.agent.id if new.agent else None,
        lead_team_ids=[t.id for t in new.teams if t.id is not None],
    )
    record_event(
        session,
        viewer=None,
        action="user_added",
        target=new.username,
        details={
            "actor": actor,
            "role": new.role.value,
            "teams": sorted(t.name for t in new.teams),
            "agent": new.agent.id if new.agent else None,
            "password": password is not None,
        },
    )
    return user


def set_role(
    session: Session,
    *,
    username: str,
    role: str,
    actor: str,
    agent: str | None = None,
    teams: Sequence[str] = (),
) -> User:
    """Change a role; a lead's teams are replaced by ``teams`` when given (kept when not).

    An account that single sign-on created is pinned by this: its role no longer follows the IdP.
    """
    parsed = parse_role(role)
    user = find_user(session, username)
    linked_agent, lead_teams = _role_links(session, parsed, agent, teams)
    previous = user.role
    if parsed == Role.agent:
        if linked_agent is not None:
            _check_agent_free(session, linked_agent, user_id=user.id)
            user.agent_id = linked_agent.id
        elif user.agent_id is None:
            raise UserAdminError("an agent account needs --agent EMAIL_OR_ID (the agent it belongs to)")
    else:
        user.agent_id = None
    if parsed != Role.lead or lead_teams:
        session.exec(delete(LeadTeam).where(col(LeadTeam.user_id) == user.id))
        for team in lead_teams:
            session.add(LeadTeam(user_id=user.id, team_id=team.id))  # type: ignore[arg-type]
    pinned = user.password_hash == SSO_ONLY
    if pinned:
        user.password_hash = None
    user.role = parsed.value
    session.add(user)
    session.flush()
    record_event(
        session,
        viewer=None,
        action="user_role_set",
        target=user.username,
        details={
            "actor": actor,
            "role": parsed.value,
            "previous": previous,
            "teams": sorted(_team_names(session, user.id)),
            "agent": user.agent_id,
            "pinned_from_sso": pinned,
        },
    )
    return user


def set_disabled(session: Session, *, username: str, disabled: bool, actor: str) -> bool:
    """Disable or enable an account; enabling also lifts a lock-out. False when nothing changed."""
    user = find_user(session, username)
    changed = user.disabled != disabled or (not disabled and user.locked_until is not None)
    if not changed:
        return False
    user.disabled = disabled
    if not disabled:
        user.failed_logins = 0
        user.locked_until = None
    session.add(user)
    record_event(
        session,
        viewer=None,
        action="user_disabled" if disabled else "user_enabled",
        target=user.username,
        details={"actor": actor},
    )
    return True


def reset_password(session: Session, *, username: str, password: str, actor: str) -> User:
    """Set a new password and lift any lock-out; the old password stops working at once."""
    user = find_user(session, username)
    check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    record_event(
        session, viewer=None, action="password_reset", target=user.username, details={"actor": actor}
    )
    return user


def _team_names(session: Session, user_id: int | None) -> list[str]:
    return list(
        session.exec(
            select(Team.name)
            .join(LeadTeam, col(LeadTeam.team_id) == Team.id)
            .where(LeadTeam.user_id == user_id)
        ).all()
    )


def sign_in_kind(user: User) -> str:
    """password; sso: no password, role set here; sso-idp: made by single sign-on, role from the IdP."""
    if user.password_hash == SSO_ONLY:
        return "sso-idp"
    return "password" if user.password_hash else "sso"


def list_users(session: Session, *, username: str | None = None) -> list[UserRow]:
    """Every account (or just ``username``) with role, teams, agent and state; never a hash."""
    now = utcnow()
    query = select(User).order_by(User.username)
    if username is not None:
        query = query.where(User.username == username)
    rows = []
    for user in session.exec(query).all():
        agent = session.get(Agent, user.agent_id) if user.agent_id is not None else None
        if user.disabled:
            status = "disabled"
        elif user.locked_until and user.locked_until > now:
            status = "locked"
        else:
            status = "active"
        rows.append(
            UserRow(
                username=user.username,
                display_name=user.display_name,
                email=user.email,
                role=user.role,
                teams=sorted(_team_names(session, user.id)),
                agent=(agent.email or f"{agent.source}:{agent.external_id}") if agent else None,
                sign_in=sign_in_kind(user),
                status=status,
            )
        )
    return rows
