"""Local accounts: create users, sign in with throttling and lock-out, build the viewer.

A refused password sign-in looks the same whether or not the user name exists: same message,
same Argon2 work, same growing delay, and after too many failures the same lock-out notice.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import NoReturn

from sqlmodel import Session, select

from ax.access import Viewer
from ax.audit import record_event
from ax.passwords import hash_password, verify_password
from ax.settings import get_settings
from db.models import Agent, LeadTeam, Role, User
from db.types import utcnow


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


# ``password_hash`` of an account that single sign-on created: never a valid Argon2 hash, so a
# password can never match it, and it tells ax/oidc.py that the account's role follows the IdP.
SSO_ONLY = "!sso"
MAX_SIGN_IN_DELAY = 8.0
_REFUSED = "Unknown user name or wrong password."


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    role: Role,
    display_name: str | None = None,
    agent_id: int | None = None,
    lead_team_ids: list[int] | None = None,
    is_demo: bool = False,
    email: str | None = None,
) -> User:
    """Add an account; ``password=None`` makes one that can only sign in through single sign-on."""
    if role == Role.agent and agent_id is None:
        raise ValueError("an agent account must be linked to an agent")
    user = User(
        username=username,
        display_name=display_name or username,
        email=email,
        password_hash=hash_password(password) if password is not None else None,
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
    """Check a password; count failures, slow down and lock the account after too many.

    Disabled accounts are only named as such to someone who knows the password, and unknown user
    names get the same failure count, delay and lock-out notice as real ones (kept in memory).
    """
    settings = get_settings()
    if not settings.password_sign_in:
        raise SignInError("Password sign-in is turned off here. Use single sign-on.")
    name = username.strip()
    user = session.exec(select(User).where(User.username == name)).first()
    now = utcnow()
    if user is None:
        _refuse_unknown(name, password, now)
    if user.locked_until and user.locked_until > now:
        raise SignInError(_locked_message(user.locked_until, now))
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        failures = user.failed_logins
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            record_event(session, viewer=None, action="account_locked", target=user.username)
        session.add(user)
        session.commit()
        _slow_down(failures)
        raise SignInError(_REFUSED)
    if user.disabled:
        raise SignInError("This account is disabled. Ask an administrator.")
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    viewer = viewer_for(session, user)
    record_event(session, viewer=viewer, action="sign_in")
    session.commit()
    return viewer


def _locked_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
    return f"Too many failed sign-ins. Try again in {minutes} min."


def sign_in_delay(failures: int) -> float:
    """Pause after the n-th failure in a row: none for a first typo, then base, 2×base … (≤ 8 s)."""
    base = get_settings().sign_in_delay_seconds
    if base <= 0 or failures < 2:
        return 0.0
    return min(MAX_SIGN_IN_DELAY, base * 2 ** (failures - 2))


def _slow_down(failures: int) -> None:
    delay = sign_in_delay(failures)
    if delay:
        _sleep(delay)


_sleep = time.sleep  # tests replace it to see the delays without waiting for them
_dummy_hash: str | None = None
_unknown_lock = threading.Lock()
_unknown: dict[str, tuple[int, datetime | None]] = {}  # name -> (failures, locked until)
_UNKNOWN_LIMIT = 10_000


def _refuse_unknown(name: str, password: str, now: datetime) -> NoReturn:
    """Treat an unknown user name like a real account: Argon2 work, failure count, lock-out."""
    global _dummy_hash
    settings = get_settings()
    with _unknown_lock:
        failures, locked_until = _unknown.pop(name, (0, None))
        if locked_until and locked_until > now:
            _unknown[name] = (failures, locked_until)
            raise SignInError(_locked_message(locked_until, now))
        failures += 1
        counted = failures
        locked_until = None
        if failures >= settings.max_failed_logins:
            failures, locked_until = 0, now + timedelta(minutes=settings.lockout_minutes)
        _unknown[name] = (failures, locked_until)
        while len(_unknown) > _UNKNOWN_LIMIT:
            del _unknown[next(iter(_unknown))]
    if _dummy_hash is None:
        _dummy_hash = hash_password("ax-no-such-user-dummy")
    verify_password(_dummy_hash, password)
    _slow_down(counted)
    raise SignInError(_REFUSED)


def demo_users_exist(session: Session) -> bool:
    return session.exec(select(User.id).where(User.is_demo == True)).first() is not None  # noqa: E712


def list_demo_accounts(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.is_demo == True).order_by(User.id)).all())  # noqa: E712
