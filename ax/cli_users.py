"""``ax users``: manage dashboard accounts from the command line (the admin's way in and way back).

Refusals (unknown user, team or agent, a taken name, a bad role, a weak password) end in one
line on stderr and exit code 2. Passwords are read hidden (asked twice) or from stdin, and never
printed. Kept free of imports from ``ax.cli`` so that module can register this one at import time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Session

from ax import users
from ax.settings import ConfigError, get_settings
from db.engine import DatabaseError, check_connection, get_engine, session_scope

users_app = typer.Typer(
    help="Dashboard accounts: add, set-role, disable, enable, reset-password, list.",
    no_args_is_help=True,
    add_completion=False,
)

TeamOption = Annotated[
    list[str] | None,
    typer.Option("--team", help="A team a lead leads (name, external id or SOURCE:ID); repeatable."),
]
AgentOption = Annotated[
    str | None,
    typer.Option("--agent", help="The agent an agent account belongs to: e-mail, external id or SOURCE:ID."),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def _fail(message: str) -> NoReturn:
    typer.secho(f"ax: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Refusals, configuration and database errors as one line with exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (users.UserAdminError, ConfigError, DatabaseError) as exc:
            _fail(str(exc))
        except IntegrityError:
            _fail("the change clashes with another account (was it made at the same time?); try again")
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            _fail(f"database error: {reason} (has `ax init` been run on this database?)")

    return wrapper


@contextmanager
def _session() -> Iterator[Session]:
    engine = get_engine(get_settings().database_url)
    check_connection(engine)
    with session_scope(engine) as session:
        yield session


def _read_password(from_stdin: bool) -> str:
    """From stdin (one line), or asked twice on the terminal with the input hidden."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("no password on stdin")
        return password
    if not sys.stdin.isatty():
        _fail("no terminal to ask for the password on: pass --password-stdin and pipe it in")
    first = typer.prompt("New password", hide_input=True)
    second = typer.prompt("Repeat the password", hide_input=True)
    if first != second:
        _fail("the two passwords differ; nothing changed")
    return first


@users_app.command("add")
@_friendly
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name (no spaces).")],
    role: Annotated[str, typer.Argument(help="agent, lead, hr or admin.")],
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the user name).")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="E-mail; single sign-on finds the account by it.")
    ] = None,
    agent: AgentOption = None,
    team: TeamOption = None,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the account signs in through single sign-on.")
    ] = False,
) -> None:
    """Add an account; asks for its password unless --no-password."""
    if no_password and password_stdin:
        _fail("use either --no-password or --password-stdin, not both")
    with _session() as session:  # every refusal comes before the password is asked for
        users.check_new_user(
            session, username=username, role=role, email=email, agent=agent, teams=team or []
        )
    password = None if no_password else _read_password(password_stdin)
    actor = users.acting_user()
    with _session() as session:
        user = users.add_user(
            session,
            username=username,
            role=role,
            actor=actor,
            display_name=name,
            email=email,
            password=password,
            agent=agent,
            teams=team or [],
        )
        summary = _describe(session, user.username)
    typer.echo(f"added {summary}")


@users_app.command("set-role")
@_friendly
def set_role(
    username: Annotated[str, typer.Argument(help="The account.")],
    role: Annotated[str, typer.Argument(help="agent, lead, hr or admin.")],
    agent: AgentOption = None,
    team: TeamOption = None,
) -> None:
    """Change an account's role; --team replaces a lead's teams (kept when not given)."""
    with _session() as session:
        user = users.set_role(
            session, username=username, role=role, actor=users.acting_user(), agent=agent, teams=team or []
        )
        summary = _describe(session, user.username)
    typer.echo(f"updated {summary}")


@users_app.command("disable")
@_friendly
def disable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Stop an account from signing in (by password or single sign-on); its history stays."""
    with _session() as session:
        changed = users.set_disabled(session, username=username, disabled=True, actor=users.acting_user())
    typer.echo(f"{username}: disabled" if changed else f"{username}: was already disabled")


@users_app.command("enable")
@_friendly
def enable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Let a disabled or locked-out account sign in again."""
    with _session() as session:
        changed = users.set_disabled(session, username=username, disabled=False, actor=users.acting_user())
    typer.echo(f"{username}: enabled" if changed else f"{username}: was already enabled")


@users_app.command("reset-password")
@_friendly
def reset_password(
    username: Annotated[str, typer.Argument(help="The account.")], password_stdin: PasswordStdin = False
) -> None:
    """Set a new password (asked twice, hidden) and lift a lock-out; the old one stops working."""
    with _session() as session:
        users.find_user(session, username)  # an unknown name fails before the password is asked for
    password = _read_password(password_stdin)
    with _session() as session:
        users.reset_password(session, username=username, password=password, actor=users.acting_user())
    typer.echo(f"{username}: password changed")


@users_app.command("list")
@_friendly
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every account: role, teams, linked agent, how it signs in, and whether it is active."""
    with _session() as session:
        rows = users.list_users(session)
    if as_json:
        typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    if not rows:
        typer.echo("no accounts yet: `ax users add NAME admin` makes the first one")
        return
    header = f"{'user':<20} {'role':<6} {'status':<9} {'sign-in':<9} {'e-mail':<30} teams / agent"
    typer.echo(header)
    for row in rows:
        scope = ", ".join(row.teams) if row.role == "lead" else (row.agent or "")
        email = row.email or "-"
        typer.echo(f"{row.username:<20} {row.role:<6} {row.status:<9} {row.sign_in:<9} {email:<30} {scope}")


def _describe(session: Session, username: str) -> str:
    (row,) = users.list_users(session, username=username)
    scope = ""
    if row.role == "lead":
        scope = f", teams: {', '.join(row.teams)}" if row.teams else ", no teams yet (add them with --team)"
    elif row.agent:
        scope = f", agent {row.agent}"
    return f"{row.role} {row.username!r}{scope}"
