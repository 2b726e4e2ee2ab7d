"""Sign-in (Argon2, lock-out, disabled accounts) and the access checks behind every read."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from ax.access import AccessDenied
from ax.accounts import SignInError, create_user, sign_in
from ax.lead_visible import team_figures
from ax.status import sync_health
from ax.workload import my_workload, org_monthly_summary, visible_teams
from db.ingest import Ingestor
from db.models import Agent, AuditEvent, Role, Team, User
from db.records import AgentRecord, MembershipRecord, TeamRecord


@pytest.fixture
def org(engine):
    """Two teams of two agents; a lead of team A; one account per role."""
    Ingestor(engine, "t").write_page(
        "dir",
        [
            TeamRecord("A", "Team A"),
            TeamRecord("B", "Team B"),
            AgentRecord("a1", "Ana"),
            AgentRecord("a2", "Ben"),
            AgentRecord("b1", "Cleo"),
            AgentRecord("b2", "Dev"),
            MembershipRecord("A", "a1"),
            MembershipRecord("A", "a2"),
            MembershipRecord("B", "b1"),
            MembershipRecord("B", "b2"),
        ],
        None,
    )
    with Session(engine) as session:
        agents = {a.external_id: a.id for a in session.exec(select(Agent)).all()}
        teams = {t.external_id: t.id for t in session.exec(select(Team)).all()}
        create_user(session, username="ana", password="pw-ana", role=Role.agent, agent_id=agents["a1"])
        create_user(session, username="cleo", password="pw-cleo", role=Role.agent, agent_id=agents["b1"])
        create_user(session, username="lead", password="pw-lead", role=Role.lead, lead_team_ids=[teams["A"]])
        create_user(session, username="hr", password="pw-hr", role=Role.hr)
        create_user(session, username="admin", password="pw-admin", role=Role.admin)
        session.commit()
    return {"agents": agents, "teams": teams}


def _viewer(engine, username):
    with Session(engine) as session:
        return sign_in(session, username, f"pw-{username}")


def test_passwords_are_argon2_hashes(engine, org):
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "ana")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert "pw-ana" not in user.password_hash


def test_wrong_password_then_lockout_then_disabled(engine, org, monkeypatch):
    monkeypatch.setenv("AX_MAX_FAILED_LOGINS", "3")
    from ax.settings import reset_settings

    reset_settings()
    with Session(engine) as session:
        for _ in range(3):
            with pytest.raises(SignInError, match="wrong password"):
                sign_in(session, "ana", "nope")
        with pytest.raises(SignInError, match="Too many failed sign-ins"):
            sign_in(session, "ana", "pw-ana")  # right password, but locked
        with pytest.raises(SignInError, match="wrong password"):
            sign_in(session, "nobody", "x")  # unknown users get the same message
        user = session.exec(select(User).where(User.username == "cleo")).one()
        user.disabled = True
        session.add(user)
        session.commit()
        with pytest.raises(SignInError, match="disabled"):
            sign_in(session, "cleo", "pw-cleo")
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "account_locked")).first()


def test_viewer_carries_role_agent_and_led_teams(engine, org):
    lead = _viewer(engine, "lead")
    ana = _viewer(engine, "ana")
    assert lead.role == Role.lead and lead.team_ids == {org["teams"]["A"]}
    assert ana.role == Role.agent and ana.agent_id == org["agents"]["a1"]


# Every read × every role: allowed (True) or refused (False).
READS = {
    "my_workload": (
        lambda s, v, org: my_workload(s, v),
        {"ana": True, "lead": False, "hr": False, "admin": False},
    ),
    "team_figures own team": (
        lambda s, v, org: team_figures(s, v, org["teams"]["A"]),
        {"ana": False, "lead": True, "hr": False, "admin": False},
    ),
    "team_figures other team": (
        lambda s, v, org: team_figures(s, v, org["teams"]["B"]),
        {"ana": False, "lead": False, "hr": False, "admin": False},
    ),
    "visible_teams": (
        lambda s, v, org: visible_teams(s, v),
        {"ana": False, "lead": True, "hr": True, "admin": True},
    ),
    "org_monthly_summary": (
        lambda s, v, org: org_monthly_summary(s, v),
        {"ana": False, "lead": False, "hr": True, "admin": True},
    ),
    "sync_health": (
        lambda s, v, org: sync_health(s, v),
        {"ana": False, "lead": False, "hr": False, "admin": True},
    ),
}


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("username", ["ana", "lead", "hr", "admin"])
def test_authorization_matrix(engine, org, read, username):
    call, allowed = READS[read]
    viewer = _viewer(engine, username)
    with Session(engine) as session:
        if allowed[username]:
            call(session, viewer, org)
        else:
            with pytest.raises(AccessDenied):
                call(session, viewer, org)
            refusal = session.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "access_denied", AuditEvent.username == username
                )
            ).first()
            assert refusal is not None


def test_lead_sees_only_the_teams_they_lead(engine, org):
    lead = _viewer(engine, "lead")
    with Session(engine) as session:
        assert [t.name for t in visible_teams(session, lead)] == ["Team A"]
        hr = _viewer(engine, "hr")
        assert [t.name for t in visible_teams(session, hr)] == ["Team A", "Team B"]
