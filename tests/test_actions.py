"""Team actions: a lead records what they did (validated, audited); agents read "you said, we did"
for their own teams only; an action about an alert on one person never reaches the team."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.accounts import create_user, viewer_for
from ax.actions import TEXT_MAX, ActionError, record_action, team_actions, you_said_we_did
from db.models import Agent, Alert, AuditEvent, Role, Team, TeamAction, TeamMembership, User

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)


class Org:
    """Billing (Ana, Bruno) led by Lea; Tech (Carla) led by Tom; an HR account; an alert on Ana."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with Session(engine, expire_on_commit=False) as s:
            billing = Team(source="t", external_id="b", name="Billing")
            tech = Team(source="t", external_id="t", name="Tech")
            s.add_all([billing, tech])
            s.flush()
            agents = {n: Agent(source="t", external_id=n, name=n) for n in ("Ana", "Bruno", "Carla")}
            s.add_all(agents.values())
            s.flush()
            for name, team in (("Ana", billing), ("Bruno", billing), ("Carla", tech)):
                s.add(TeamMembership(source="t", external_id=name, team_id=team.id, agent_id=agents[name].id))
                create_user(
                    s, username=name.lower(), password=None, role=Role.agent, agent_id=agents[name].id
                )
            create_user(
                s,
                username="lea",
                password=None,
                role=Role.lead,
                display_name="Lea",
                lead_team_ids=[billing.id],
            )
            create_user(s, username="tom", password=None, role=Role.lead, lead_team_ids=[tech.id])
            create_user(s, username="hana", password=None, role=Role.hr)
            on_ana = Alert(
                team_id=billing.id,
                agent_id=agents["Ana"].id,
                kind="overload",
                day=date(2026, 3, 20),
                text="Billing: Ana has had occupancy above 90%",
                dedupe_key="a1",
            )
            on_team = Alert(
                team_id=billing.id,
                kind="overload",
                day=date(2026, 3, 20),
                text="Billing: 3 agents",
                dedupe_key="a2",
            )
            on_tech = Alert(
                team_id=tech.id, kind="overload", day=date(2026, 3, 20), text="Tech: 1 agent", dedupe_key="a3"
            )
            s.add_all([on_ana, on_team, on_tech])
            s.commit()
            self.billing, self.tech = billing.id, tech.id
            self.on_ana, self.on_team, self.on_tech = on_ana.id, on_team.id, on_tech.id

    def viewer(self, username: str) -> Viewer:
        with Session(self.engine) as s:
            return viewer_for(s, s.exec(select(User).where(User.username == username)).one())


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_a_lead_records_an_action_and_it_is_audited_without_its_words(engine):
    org = Org(engine)
    lea = org.viewer("lea")
    with Session(engine) as s:
        view = record_action(
            s, lea, org.billing, "  Added a 10-minute\nbreak after 2 pm.  ", about="survey", now=NOW
        )
    assert (view.team, view.text, view.about, view.shared, view.by) == (
        "Billing",
        "Added a 10-minute break after 2 pm.",
        "survey",
        True,
        "Lea",
    )
    [event] = _audit(engine, "team_action_recorded")
    assert event.username == "lea" and event.target == f"team {org.billing}"
    assert '"chars": 35' in event.details and "break" not in event.details
    with Session(engine) as s:
        assert [a.text for a in team_actions(s, lea, org.billing)] == ["Added a 10-minute break after 2 pm."]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the text is empty"),
        ("   \n\t ", "the text is empty"),
        (None, "the text is empty"),
        ("x" * (TEXT_MAX + 1), f"Keep it to {TEXT_MAX} characters (this is {TEXT_MAX + 1})"),
    ],
)
def test_empty_or_overlong_text_is_refused_with_a_message(engine, text, message):
    org = Org(engine)
    with (
        Session(engine) as s,
        pytest.raises(ActionError, match=message.replace("(", r"\(").replace(")", r"\)")),
    ):
        record_action(s, org.viewer("lea"), org.billing, text, about="other")
    with Session(engine) as s:
        assert s.exec(select(TeamAction)).all() == []


def test_unknown_subject_and_another_teams_alert_are_refused(engine):
    org = Org(engine)
    with Session(engine) as s:
        with pytest.raises(ActionError, match="Pick what the action is about"):
            record_action(s, org.viewer("lea"), org.billing, "Did things", about="gossip")
        with pytest.raises(ActionError, match="not one of this team's alerts"):
            record_action(
                s, org.viewer("lea"), org.billing, "Did things", about="alert", alert_id=org.on_tech
            )


@pytest.mark.parametrize("username", ["tom", "ana", "hana"])
def test_only_a_lead_of_the_team_may_record_or_read_its_actions(engine, username):
    org = Org(engine)
    viewer = org.viewer(username)
    with Session(engine) as s:
        with pytest.raises(AccessDenied):
            record_action(s, viewer, org.billing, "Moved people around", about="other")
        with pytest.raises(AccessDenied):
            team_actions(s, viewer, org.billing)
    assert len(_audit(engine, "access_denied")) == 2
    assert _audit(engine, "team_action_recorded") == []


def test_agents_see_shared_actions_of_their_own_teams_only(engine):
    org = Org(engine)
    with Session(engine) as s:
        record_action(
            s, org.viewer("lea"), org.billing, "Second person on phones at lunch", about="survey", now=NOW
        )
        record_action(
            s, org.viewer("lea"), org.billing, "Spoke with the planner", about="other", shared=False
        )
        record_action(s, org.viewer("tom"), org.tech, "New macro for refunds", about="survey", now=NOW)
        record_action(
            s, org.viewer("lea"), org.billing, "More breaks for the team", about="alert", alert_id=org.on_team
        )
        ana = you_said_we_did(s, org.viewer("ana"))
        carla = you_said_we_did(s, org.viewer("carla"))
    assert [a.text for a in ana] == ["More breaks for the team", "Second person on phones at lunch"]
    assert all(a.alert_text is None and a.team == "Billing" for a in ana)  # not which alert prompted it
    assert [a.text for a in carla] == ["New macro for refunds"]


def test_an_action_about_one_persons_alert_stays_with_the_leads(engine):
    org = Org(engine)
    with Session(engine) as s:
        view = record_action(
            s,
            org.viewer("lea"),
            org.billing,
            "Moved Ana off phones for the afternoon",
            about="other",
            alert_id=org.on_ana,
            shared=True,
        )
        assert (view.about, view.shared, view.alert_text) == (
            "alert",
            False,
            "Billing: Ana has had occupancy above 90%",
        )
        assert you_said_we_did(s, org.viewer("bruno")) == []
        assert [a.alert_text for a in team_actions(s, org.viewer("lea"), org.billing)] == [view.alert_text]


@pytest.mark.parametrize("username", ["lea", "hana"])
def test_you_said_we_did_is_for_agents(engine, username):
    org = Org(engine)
    with Session(engine) as s, pytest.raises(AccessDenied):
        you_said_we_did(s, org.viewer(username))
