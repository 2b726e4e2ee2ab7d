"""Lead alerts: conditions from agent_day / agent_risk, once per condition per day, in-app for the
team's leads, by e-mail and to the leads' channel through real local SMTP and HTTP servers.

What must hold: an alert reaches only the leads of its team; a rerun (or a second worker) the same
day sends nothing again, the next day raises it again; the channel message names nobody; nothing
about a survey answer reaches an alert; unknown occupancy never raises one; under the team_only
privacy profile no alert names an agent.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.accounts import create_user, viewer_for
from ax.alerts import ALERT_KIND, CHANNEL_KIND, OVERLOAD, RISK_RISING, run_alerts, team_alerts
from ax.jobs import run_recorded
from ax.notifications import my_notifications
from ax.settings import Settings, get_settings, reset_settings
from ax.worker import job_specs
from db.models import (
    Agent,
    AgentDay,
    AgentRisk,
    Alert,
    AuditEvent,
    Notification,
    PulseAnswer,
    PulseSurvey,
    Role,
    Team,
    TeamMembership,
    User,
)
from tests.test_notify import PASSWORD, TOKEN, SmtpSink, WebhookSink, hook, smtp  # noqa: F401

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)  # a Friday
TODAY = NOW.date()
SECRET_COMMENT = "my manager shouts at me"


def _settings(smtp_port: int | None = None, hook_url: str | None = None, **extra) -> Settings:
    return Settings(
        timezone="UTC",
        dashboard_url="https://ax.example.org",
        smtp_host="127.0.0.1" if smtp_port else None,
        smtp_port=smtp_port or 587,
        smtp_user="ax-bot",
        smtp_password=PASSWORD,
        smtp_from="AX <ax@example.org>",
        smtp_starttls=False,
        alert_webhook_url=hook_url,
        **extra,
    )


def _day(agent_id: int, day: date, occupancy: float | None) -> AgentDay:
    return AgentDay(
        agent_id=agent_id,
        day=day,
        contacts=30,
        handle_seconds=20000,
        occupancy=occupancy,
        on_queue_seconds=None if occupancy is None else 25000,
        computed_at=NOW,
    )


class Org:
    """Two teams, each with a lead; in Billing Ana is overloaded (4 of 5 days over 90%) and Bruno's
    risk rose from low to high, Carla has no status data; in Tech nobody is over anything."""

    def __init__(self, engine: Engine) -> None:
        with Session(engine, expire_on_commit=False) as s:
            billing, tech = (
                Team(source="t", external_id="b", name="Billing"),
                Team(source="t", external_id="t", name="Tech"),
            )
            s.add_all([billing, tech])
            s.flush()
            names = ["Ana Pereira", "Bruno Costa", "Carla Dias", "Duarte Lima"]
            agents = [Agent(source="t", external_id=n, name=n) for n in names]
            s.add_all(agents)
            s.flush()
            self.agents = {a.name: a.id for a in agents}
            for a in agents[:3]:
                s.add(TeamMembership(source="t", external_id=f"m{a.id}", team_id=billing.id, agent_id=a.id))
            s.add(TeamMembership(source="t", external_id="m4", team_id=tech.id, agent_id=agents[3].id))
            days = [
                TODAY - timedelta(days=n)
                for n in range(6, -1, -1)
                if (TODAY - timedelta(days=n)).weekday() < 5
            ]
            ana = [0.80, 0.93, 0.95, 0.92, 0.94]  # last 5 working days: 4 over 90%, today over
            for day, occ in zip(days[-5:], ana, strict=True):
                s.add(_day(self.agents["Ana Pereira"], day, occ))
            for day in days:
                s.add(_day(self.agents["Bruno Costa"], day, 0.70))
                s.add(_day(self.agents["Carla Dias"], day, None))  # no status data: unknown
                s.add(_day(self.agents["Duarte Lima"], day, 0.75))
            drivers = json.dumps(
                [
                    {
                        "key": "overtime",
                        "text": "more than 9 h logged in on 4 of the last 5 working days",
                        "source": "workload",
                    }
                ]
            )
            s.add(
                AgentRisk(
                    agent_id=self.agents["Bruno Costa"],
                    day=TODAY - timedelta(days=8),
                    level="low",
                    computed_at=NOW,
                )
            )
            s.add(
                AgentRisk(
                    agent_id=self.agents["Bruno Costa"],
                    day=TODAY,
                    level="high",
                    points=4,
                    drivers=drivers,
                    computed_at=NOW,
                )
            )
            self.billing, self.tech = billing.id, tech.id
            for username, team in (("lea", billing.id), ("tom", tech.id)):
                create_user(
                    s,
                    username=username,
                    password="x" * 12,
                    role=Role.lead,
                    lead_team_ids=[team],
                    email=f"{username}@example.org",
                )
            create_user(
                s, username="ana", password="x" * 12, role=Role.agent, agent_id=self.agents["Ana Pereira"]
            )
            # a confidential survey answer of Ana's: must never travel with an alert
            survey = PulseSurvey(
                key="w",
                title="Pulse",
                instrument="pulse",
                opens_at=NOW - timedelta(days=3),
                closes_at=NOW - timedelta(days=1),
            )
            s.add(survey)
            s.flush()
            s.add(
                PulseAnswer(
                    source="ax",
                    external_id="a1",
                    survey_id=survey.id,
                    agent_id=self.agents["Ana Pereira"],
                    item_key="custom_text",
                    text=SECRET_COMMENT,
                    answered_at=NOW - timedelta(days=2),
                )
            )
            s.commit()

    def viewer(self, engine: Engine, username: str) -> Viewer:
        with Session(engine) as s:
            return viewer_for(s, s.exec(select(User).where(User.username == username)).one())


def _alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as s:
        return list(s.exec(select(Alert).order_by(Alert.kind)).all())


def _notes(engine: Engine) -> list[Notification]:
    with Session(engine) as s:
        return list(s.exec(select(Notification).order_by(Notification.id)).all())


def test_overload_and_rising_risk_reach_the_teams_leads_once_per_day(engine, smtp, hook):  # noqa: F811
    org = Org(engine)
    settings = _settings(smtp.port, hook.url)
    assert run_alerts(engine, NOW, settings=settings) == 2
    alerts = _alerts(engine)
    assert [(a.kind, a.team_id, a.agent_id) for a in alerts] == [
        (OVERLOAD, org.billing, org.agents["Ana Pereira"]),
        (RISK_RISING, org.billing, org.agents["Bruno Costa"]),
    ]
    overload = alerts[0].text
    assert "Ana Pereira" in overload and "occupancy above 90% on 4 of the last 5 working days" in overload
    assert "rose from low to high" in alerts[1].text and "9 h logged in" in alerts[1].text

    # in the app: Lea (Billing) sees both, Tom (Tech) none, the agent none
    lea = [n.text for n in my_notifications(Session(engine), org.viewer(engine, "lea"))]
    assert sorted(lea) == sorted(a.text for a in alerts)
    assert my_notifications(Session(engine), org.viewer(engine, "tom")) == []
    assert my_notifications(Session(engine), org.viewer(engine, "ana")) == []

    # by e-mail to Lea only, and one nameless channel message per condition
    assert sorted(to for _, [to], _ in smtp.messages) == ["lea@example.org", "lea@example.org"]
    assert all(m["Subject"] == "AX alert: Billing" for _, _, m in smtp.messages)
    posts = [body["text"] for path, body in hook.posts]
    assert len(posts) == 2 and all(path.endswith(TOKEN) for path, _ in hook.posts)
    assert all("Billing" in p and not any(name in p for name in org.agents) for p in posts)

    # rerun, and a second worker, the same day: nothing new anywhere
    assert run_alerts(engine, NOW + timedelta(hours=2), settings=settings) == 0
    assert run_alerts(engine, NOW + timedelta(hours=2), settings=settings) == 0
    assert len(_alerts(engine)) == 2 and len(smtp.messages) == 2 and len(hook.posts) == 2
    # the next day the conditions still hold: raised again, once
    assert run_alerts(engine, NOW + timedelta(days=1), settings=settings) == 2
    assert len(smtp.messages) == 4 and len(hook.posts) == 4


def test_no_survey_answer_and_no_secret_travels_with_an_alert(engine, smtp, hook, caplog):  # noqa: F811
    Org(engine)
    run_alerts(engine, NOW, settings=_settings(smtp.port, hook.url))
    mails = [m.get_payload(decode=True).decode() for _, _, m in smtp.messages]
    sent = mails + [json.dumps(b) for _, b in hook.posts]
    stored = [a.text for a in _alerts(engine)] + [n.text for n in _notes(engine)]
    everything = "\n".join([*sent, *stored, caplog.text])
    assert SECRET_COMMENT not in everything
    assert PASSWORD not in everything and TOKEN not in "\n".join([*stored, caplog.text])
    assert "survey answers are never part of an alert" in mails[0]


def test_unknown_occupancy_raises_nothing_and_calm_teams_get_nothing(engine):
    org = Org(engine)
    run_alerts(engine, NOW, settings=_settings())
    flagged = {a.agent_id for a in _alerts(engine)}
    assert org.agents["Carla Dias"] not in flagged and org.agents["Duarte Lima"] not in flagged
    assert all(n.kind == ALERT_KIND for n in _notes(engine))  # no channel configured: no channel rows


def test_team_only_profile_raises_team_alerts_without_names(engine, hook):  # noqa: F811
    org = Org(engine)
    run_alerts(engine, NOW, settings=_settings(hook_url=hook.url, privacy_profile="team_only"))
    alerts = _alerts(engine)
    assert [(a.kind, a.agent_id) for a in alerts] == [(OVERLOAD, None), (RISK_RISING, None)]
    texts = [a.text for a in alerts] + [n.text for n in _notes(engine)] + [b["text"] for _, b in hook.posts]
    assert not any(name in t for t in texts for name in org.agents)
    assert "1 agent has had occupancy above 90%" in alerts[0].text


def test_leads_read_their_teams_alerts_only_and_team_only_hides_earlier_named_ones(engine, monkeypatch):
    org = Org(engine)
    run_alerts(engine, NOW, settings=_settings())
    lea, tom, ana = (org.viewer(engine, u) for u in ("lea", "tom", "ana"))
    with Session(engine) as s:
        seen = team_alerts(s, lea, org.billing, days=400)
        assert {a.kind for a in seen} == {OVERLOAD, RISK_RISING} and all(a.about_agent for a in seen)
        assert team_alerts(s, tom, org.tech, days=400) == []
        for viewer, team in ((tom, org.billing), (ana, org.billing)):
            with pytest.raises(AccessDenied):
                team_alerts(s, viewer, team, days=400)
        refusals = s.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access_denied")
        ).one()
        assert refusals == 2
    monkeypatch.setenv("AX_PRIVACY_PROFILE", "team_only")
    reset_settings()
    with Session(engine) as s:
        assert team_alerts(s, lea, org.billing, days=400) == []


def test_failed_deliveries_are_retried_once_and_the_job_is_recorded(engine, hook):  # noqa: F811
    Org(engine)
    broken = WebhookSink(statuses=[500, 500])
    try:
        run_alerts(engine, NOW, settings=_settings(hook_url=broken.url))
        channel = [n for n in _notes(engine) if n.kind == CHANNEL_KIND]
        assert len(channel) == 2 and all(n.sent_at is None and "HTTP 500" in n.send_error for n in channel)
        run_alerts(engine, NOW + timedelta(minutes=15), settings=_settings(hook_url=broken.url))
        channel = [n for n in _notes(engine) if n.kind == CHANNEL_KIND]
        assert all(n.sent_at is not None for n in channel) and len(broken.posts) == 4
    finally:
        broken.stop()
    run = run_recorded(
        engine, "alerts", lambda: run_alerts(engine, NOW + timedelta(days=1), settings=_settings())
    )
    assert (run.status, run.rows) == ("ok", 2)


def test_the_worker_runs_alerts_after_compute():
    specs = {spec.id: spec for spec in job_specs(get_settings())}
    alerts = specs["alerts"]
    assert alerts.func == "ax.alerts:run_alerts" and not alerts.run_at_start
    assert alerts.trigger.interval.total_seconds() == 15 * 60
    assert alerts.trigger.start_date > datetime.now(UTC)  # compute runs at start; alerts a little later
