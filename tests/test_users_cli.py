"""``ax users`` run as an administrator runs it (a subprocess), on SQLite and PostgreSQL.

Each change is checked where it matters: the account can (or cannot) sign in through
``ax.accounts.sign_in``, the viewer carries the role and teams, and the audit log names who did it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from ax.accounts import SignInError, sign_in
from db.ingest import Ingestor
from db.models import Agent, AuditEvent, Role, Team, User
from db.records import AgentRecord, MembershipRecord, TeamRecord

AX = [sys.executable, "-m", "ax.cli"]
ROOT = Path(__file__).resolve().parent.parent
ACTOR = "olga-ops"  # the OS user the audit log must name (sudo's caller comes first)
PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple-battery-42-horse"


def _env(store) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AX_")}
    env.update(PYTHONPATH=str(ROOT), AX_DATABASE_URL=store.url, SUDO_USER=ACTOR)
    return env


def ax(store, *args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``ax`` with only this test's database configured, optionally piping stdin."""
    return subprocess.run(
        [*AX, *args], input=stdin, capture_output=True, text=True, env=_env(store), cwd=cwd, timeout=120
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def org(store):
    """Two teams and two agents from a helpdesk; no accounts yet."""
    Ingestor(store.engine, "zd").write_page(
        "dir",
        [
            TeamRecord("A", "Team A"),
            TeamRecord("B", "Billing"),
            AgentRecord("a1", "Ana", email="ana@example.org"),
            AgentRecord("b1", "Cleo", email="cleo@example.org"),
            MembershipRecord("A", "a1"),
            MembershipRecord("B", "b1"),
        ],
        None,
    )
    with Session(store.engine) as session:
        teams = {t.name: t.id for t in session.exec(sql_select(Team)).all()}
        agents = {a.email: a.id for a in session.exec(sql_select(Agent)).all()}
    return {"teams": teams, "agents": agents}


def _sign_in(store, username: str, password: str):
    with Session(store.engine) as session:
        return sign_in(session, username, password)


def _audit(store, username: str) -> list[tuple[str, dict]]:
    with Session(store.engine) as session:
        rows = session.exec(
            sql_select(AuditEvent).where(AuditEvent.target == username).order_by(col(AuditEvent.id))
        ).all()
    return [(r.action, json.loads(r.details or "{}")) for r in rows]


def test_add_each_role_then_sign_in_and_list(store, org, tmp_path):
    out = ok(
        ax(
            store,
            *("users", "add", "lea", "lead", "--name", "Lea Lead", "--email", "lea@example.org"),
            *("--team", "team a", "--team", "Billing", "--password-stdin"),
            stdin=PASSWORD + "\n",
            cwd=tmp_path,
        )
    )
    assert "lead 'lea'" in out and "Billing, Team A" in out
    ok(
        ax(
            store,
            "users",
            "add",
            "ana",
            "agent",
            "--agent",
            "ANA@example.org",
            "--password-stdin",
            stdin=PASSWORD,
        )
    )
    ok(ax(store, "users", "add", "sso-hr", "hr", "--email", "hr@example.org", "--no-password"))

    lea = _sign_in(store, "lea", PASSWORD)
    assert lea.role == Role.lead and lea.display_name == "Lea Lead"
    assert lea.team_ids == {org["teams"]["Team A"], org["teams"]["Billing"]}
    ana = _sign_in(store, "ana", PASSWORD)
    assert ana.role == Role.agent and ana.agent_id == org["agents"]["ana@example.org"]
    with pytest.raises(SignInError, match="wrong password"):
        _sign_in(store, "sso-hr", "")  # an account without a password has none to guess

    listed = ok(ax(store, "users", "list", "--json"))
    assert "argon2" not in listed and PASSWORD not in listed
    rows = {row["username"]: row for row in json.loads(listed)}
    assert rows["lea"]["teams"] == ["Billing", "Team A"] and rows["lea"]["sign_in"] == "password"
    assert rows["ana"]["agent"] == "ana@example.org" and rows["ana"]["email"] == "ana@example.org"
    assert rows["sso-hr"]["sign_in"] == "sso" and rows["sso-hr"]["status"] == "active"
    table = ok(ax(store, "users", "list"))
    assert table.splitlines()[0].split()[:3] == ["user", "role", "status"]
    assert any(line.split()[:3] == ["lea", "lead", "active"] for line in table.splitlines())

    (action, details), *_ = _audit(store, "lea")
    assert action == "user_added"
    assert details == {
        "actor": ACTOR,
        "agent": None,
        "password": True,
        "role": "lead",
        "teams": ["Billing", "Team A"],
    }


def test_set_role_disable_enable_reset_password(store, org):
    ok(ax(store, "users", "add", "bob", "hr", "--password-stdin", stdin=PASSWORD))
    assert _sign_in(store, "bob", PASSWORD).role == Role.hr

    ok(ax(store, "users", "set-role", "bob", "lead", "--team", "Team A", "--team", "Billing"))
    bob = _sign_in(store, "bob", PASSWORD)
    assert bob.role == Role.lead and bob.team_ids == {org["teams"]["Team A"], org["teams"]["Billing"]}
    ok(ax(store, "users", "set-role", "bob", "lead", "--team", "Billing"))  # --team replaces the teams
    assert _sign_in(store, "bob", PASSWORD).team_ids == {org["teams"]["Billing"]}

    assert ok(ax(store, "users", "disable", "bob")).strip() == "bob: disabled"
    with pytest.raises(SignInError, match="disabled"):
        _sign_in(store, "bob", PASSWORD)
    assert "already disabled" in ok(ax(store, "users", "disable", "bob"))
    ok(ax(store, "users", "enable", "bob"))
    assert _sign_in(store, "bob", PASSWORD).role == Role.lead

    out = ok(ax(store, "users", "reset-password", "bob", "--password-stdin", stdin=NEW_PASSWORD + "\n"))
    assert NEW_PASSWORD not in out and "password changed" in out
    with pytest.raises(SignInError, match="wrong password"):
        _sign_in(store, "bob", PASSWORD)
    assert _sign_in(store, "bob", NEW_PASSWORD).username == "bob"

    trail = _audit(store, "bob")
    changes = [(action, details["actor"]) for action, details in trail if "actor" in details]
    assert changes == [
        ("user_added", ACTOR),
        ("user_role_set", ACTOR),
        ("user_role_set", ACTOR),
        ("user_disabled", ACTOR),
        ("user_enabled", ACTOR),
        ("password_reset", ACTOR),
    ]  # the second `disable` changed nothing and wrote nothing
    role_sets = [d for a, d in trail if a == "user_role_set"]
    assert role_sets[0]["previous"] == "hr" and role_sets[1]["teams"] == ["Billing"]
    assert not any(NEW_PASSWORD in json.dumps(d) or PASSWORD in json.dumps(d) for _, d in trail)


BAD_INPUTS = [
    (("users", "set-role", "ghost", "hr"), None, "no user named 'ghost'"),
    (("users", "add", "tom", "lead", "--team", "Nope", "--no-password"), None, "no team named 'Nope'"),
    (("users", "add", "tom", "agent", "--agent", "nobody@example.org", "--no-password"), None, "no agent"),
    (("users", "add", "tom", "agent", "--no-password"), None, "needs --agent"),
    (("users", "add", "ana", "hr", "--no-password"), None, "user name 'ana' is taken"),
    (("users", "add", "tom", "boss", "--no-password"), None, "unknown role 'boss'"),
    (("users", "add", "tom", "hr", "--team", "Billing", "--no-password"), None, "only leads have teams"),
    (("users", "add", "tom", "hr", "--email", "ANA@example.org", "--no-password"), None, "already belongs"),
    (("users", "reset-password", "ana", "--password-stdin"), "short-pw\n", "at least 12 characters"),
    (("users", "reset-password", "ana", "--password-stdin"), "aaaaaaaabbbbbb\n", "different characters"),
    (("users", "reset-password", "ana"), None, "--password-stdin"),  # no terminal to ask on
]


def test_bad_inputs_exit_2_with_one_line_and_change_nothing(store, org):
    ok(
        ax(
            store,
            "users",
            "add",
            "ana",
            "agent",
            "--agent",
            "ana@example.org",
            "--password-stdin",
            stdin=PASSWORD,
        )
    )
    started = [  # all at once: refusals write nothing, so they cannot disturb each other
        subprocess.Popen(
            [*AX, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(store),
        )
        for args, _, _ in BAD_INPUTS
    ]
    for process, (args, stdin, fragment) in zip(started, BAD_INPUTS, strict=True):
        stdout, stderr = process.communicate(stdin or "", timeout=120)
        assert process.returncode == 2, (args, stdout, stderr)
        message = stderr.strip()
        assert "Traceback" not in stderr
        assert message.startswith("ax: ") and len(message.splitlines()) == 1, (args, message)
        assert fragment in message, (args, message)
    with Session(store.engine) as session:
        assert [u.username for u in session.exec(sql_select(User)).all()] == ["ana"]
    assert [action for action, _ in _audit(store, "ana")] == ["user_added"]
    assert _sign_in(store, "ana", PASSWORD).role == Role.agent  # the refused resets changed nothing


def _run_on_terminal(store, args: list[str], typed: list[str]) -> tuple[int, str]:
    """Run ``ax`` on a pseudo-terminal (so it prompts), typing one line after each password prompt.

    A line is only typed once getpass has written the prompt's last space: it turns echo off and
    flushes any type-ahead just before that.
    """
    env = _env(store)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in a real shell
        os.execvpe(AX[0], [*AX, *args], env)
    output, answered, deadline = b"", 0, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if answered < len(typed) and output.lower().count(b"password: ") > answered:
                os.write(fd, typed[answered].encode() + b"\n")
                answered += 1
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # the prompt is the same on any store
def test_reset_password_asks_twice_hidden_on_a_terminal(store, org):
    ok(
        ax(
            store,
            "users",
            "add",
            "ana",
            "agent",
            "--agent",
            "ana@example.org",
            "--password-stdin",
            stdin=PASSWORD,
        )
    )
    code, screen = _run_on_terminal(
        store, ["users", "reset-password", "ana"], [NEW_PASSWORD, "typo-" + NEW_PASSWORD]
    )
    assert code == 2 and "differ" in screen and NEW_PASSWORD not in screen, screen  # hidden, refused
    assert _sign_in(store, "ana", PASSWORD).username == "ana"
    code, screen = _run_on_terminal(store, ["users", "reset-password", "ana"], [NEW_PASSWORD, NEW_PASSWORD])
    assert code == 0 and "New password" in screen and "Repeat" in screen and NEW_PASSWORD not in screen
    assert _sign_in(store, "ana", NEW_PASSWORD).username == "ana"
