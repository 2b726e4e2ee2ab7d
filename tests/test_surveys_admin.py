"""Survey configuration: admin and HR change definitions and add questions (audited, validated);
agents and leads are refused (audited); the page does the same through Streamlit's AppTest."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from ax.access import AccessDenied, Viewer
from ax.accounts import viewer_for
from ax.settings import Settings
from ax.survey_admin import (
    SurveyConfigError,
    add_custom_item,
    list_definitions,
    planned_windows,
    update_definition,
)
from ax.survey_windows import open_and_close_windows, seed_default_definitions
from ax.surveys import window_items
from db.models import Agent, AuditEvent, PulseSurvey, Role, SurveyDefinition, User

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "surveys_admin.py")


def _people(engine: Engine) -> dict[str, Viewer]:
    with Session(engine) as session:
        seed_default_definitions(session)
        agent = Agent(source="t", external_id="1", name="Ana")
        session.add(agent)
        session.flush()
        users = {  # no password: nobody signs in here, and Argon2 would cost half a second each
            role.value: User(
                username=role.value,
                display_name=role.value,
                role=role.value,
                agent_id=agent.id if role == Role.agent else None,
            )
            for role in Role
        }
        session.add_all(users.values())
        session.commit()
        return {name: viewer_for(session, user) for name, user in users.items()}


def _definition_id(engine: Engine, key: str) -> int:
    with Session(engine) as session:
        return session.exec(select(SurveyDefinition.id).where(SurveyDefinition.key == key)).one()


def _audit(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


def test_hr_changes_a_definition_and_the_change_is_audited(engine):
    people = _people(engine)
    monthly = _definition_id(engine, "monthly_checkin")
    keys = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5", "enps"]
    with Session(engine) as session:
        assert update_definition(session, people["hr"], monthly, window_days=10, item_keys=keys)
        assert not update_definition(session, people["hr"], monthly, window_days=10)  # nothing new
        [view] = [d for d in list_definitions(session, people["admin"]) if d.id == monthly]
    assert (view.window_days, view.updated_by) == (10, "hr")
    assert [i.key for i in view.items] == keys
    assert view.items[0].text == "I have felt cheerful and in good spirits"
    assert view.items[0].source == "WHO-5 Well-Being Index"
    assert view.items[-1].answer == "0–10: Not at all likely … Extremely likely"
    assert view.coverage == (
        "WHO-5 Well-Being Index: 5 of 5 items, scored",
        "Employee Net Promoter Score: 1 of 1 items, scored",
    )
    [event] = [e for e in _audit(engine) if e.action == "survey_definition_changed"]
    assert (event.username, event.target) == ("hr", "survey_definition:monthly_checkin")
    changed = json.loads(event.details)["changed"]
    assert changed["window_days"] == [7, 10]
    assert changed["items"][1] == keys and len(changed["items"][0]) == 14


def test_the_weekly_pulse_lists_its_rotation_and_can_carry_extra_questions(engine):
    people = _people(engine)
    weekly = _definition_id(engine, "weekly_pulse")
    with Session(engine) as session:
        [view] = [d for d in list_definitions(session, people["hr"]) if d.id == weekly]
        assert view.rotation and view.items == () and len(view.rotation_weeks) == 3
        assert [i.key for i in view.rotation_weeks[0]] == [
            "who5_1",
            "who5_2",
            "cbi_work_1",
            "cbi_work_2",
            "single_burnout",
        ]
        assert {"custom_likert", "custom_scale", "custom_text"}.isdisjoint(c.key for c in view.choices)
        assert update_definition(session, people["admin"], weekly, item_keys=["enps"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window_days": 8}, "A weekly survey stays open 1 to 7 days"),
        ({"window_days": 0}, "stays open 1 to 7 days"),
        ({"cadence": "daily"}, "Cadence must be one of weekly, monthly, quarterly"),
        ({"cadence": "monthly"}, "Only a weekly survey can rotate"),
        ({"rotation": False}, "Choose at least one question"),
        ({"item_keys": ["who5_1", "who5_1"]}, "asked once"),
        ({"item_keys": ["nope"]}, "Unknown question(s): nope"),
        ({"item_keys": ["custom_text"]}, "Unknown question(s): custom_text"),
    ],
)
def test_changes_that_cannot_work_are_refused_with_a_reason(engine, changes, message):
    people = _people(engine)
    with (
        Session(engine) as session,
        pytest.raises(SurveyConfigError, match=message.replace("(", r"\(").replace(")", r"\)")),
    ):
        update_definition(session, people["admin"], _definition_id(engine, "weekly_pulse"), **changes)
    assert not [e for e in _audit(engine) if e.action == "survey_definition_changed"]


def test_custom_questions_are_validated_audited_and_asked_from_the_next_window(engine):
    people = _people(engine)
    monthly = _definition_id(engine, "monthly_checkin")
    with Session(engine) as session:
        item = add_custom_item(
            session, people["hr"], monthly, key="team_support", text="  My team  supports me. ", kind="likert"
        )
        assert (item.key, item.text, item.min, item.max) == ("team_support", "My team supports me.", 1, 5)
        add_custom_item(
            session, people["hr"], monthly, key="one_change", text="One thing to change?", kind="text"
        )
        for key, text, kind, message in (
            ("team_support", "Again?", "likert", "already used"),
            ("who5_1", "Clash", "scale", "built-in question key"),
            ("Bad Key", "Bad", "scale", "lower-case letters"),
            ("fine_key", "", "scale", "1 to 300 characters"),
            ("fine_key", "Pick one", "frequency", "1–5 agreement scale, 0–10, or in free text"),
        ):
            with pytest.raises(SurveyConfigError, match=message):
                add_custom_item(session, people["admin"], monthly, key=key, text=text, kind=kind)
        [view] = [d for d in list_definitions(session, people["hr"]) if d.id == monthly]
    assert [i.key for i in view.items][-2:] == ["team_support", "one_change"]
    assert view.items[-2].source == "Custom question" and view.items[-2].answer.startswith(
        "1–5: Strongly disagree"
    )
    added = [json.loads(e.details) for e in _audit(engine) if e.action == "survey_question_added"]
    assert added == [
        {"key": "team_support", "kind": "likert", "text": "My team supports me."},
        {"key": "one_change", "kind": "text", "text": "One thing to change?"},
    ]
    # The next window asks them, and the agent's side resolves them from the definition.
    open_and_close_windows(engine, datetime(2026, 2, 1, 10, tzinfo=UTC), settings=Settings(timezone="UTC"))
    with Session(engine) as session:
        window = session.exec(select(PulseSurvey).where(PulseSurvey.key == "monthly-checkin-2026-02")).one()
        definition = session.get(SurveyDefinition, monthly)
        asked = window_items(window, definition)
    assert [i.key for i in asked][-2:] == ["team_support", "one_change"]
    assert asked[-2].text == "My team supports me."


@pytest.mark.parametrize("role", ["agent", "lead"])
def test_agents_and_leads_are_refused_and_the_refusal_is_audited(engine, role):
    people = _people(engine)
    monthly = _definition_id(engine, "monthly_checkin")
    with Session(engine) as session:
        for attempt in (
            lambda: list_definitions(session, people[role]),
            lambda: planned_windows(session, people[role]),
            lambda: update_definition(session, people[role], monthly, active=False),
            lambda: add_custom_item(session, people[role], monthly, key="k1", text="Q?", kind="text"),
        ):
            with pytest.raises(AccessDenied):
                attempt()
        assert session.get(SurveyDefinition, monthly).active
    events = _audit(engine)
    assert [(e.username, e.action) for e in events] == [(role, "access_denied")] * 4


def test_planned_windows_follow_the_org_timezone_and_skip_the_pulse_in_check_in_weeks(engine, monkeypatch):
    monkeypatch.setenv("AX_TIMEZONE", "Europe/Lisbon")
    from ax.settings import reset_settings

    reset_settings()
    people = _people(engine)
    with Session(engine) as session:
        plans = planned_windows(
            session, people["hr"], now=datetime(2026, 10, 20, 12, tzinfo=UTC), per_definition=3
        )
    assert [p.key for p in plans] == [
        "weekly-pulse-2026-W43",
        "monthly-checkin-2026-11",  # 1 November is a Sunday: no pulse that week (W44)
        "weekly-pulse-2026-W45",
        "weekly-pulse-2026-W46",
        "monthly-checkin-2026-12",
        "monthly-checkin-2027-01",
    ]
    assert plans[0].opens_at == datetime(2026, 10, 18, 23, 0, tzinfo=UTC)  # Monday 00:00 WEST
    assert plans[2].opens_at == datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # Monday 00:00 WET


# --- the page ----------------------------------------------------------------------------------


def _page(viewer: Viewer) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state["ax_viewer"] = viewer
    app.session_state["ax_signed_in_at"] = time.time()
    return app.run()


def _no_exception(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def test_page_hr_edits_a_definition_and_adds_a_question(engine):
    people = _people(engine)
    app = _page(people["hr"])
    _no_exception(app)
    assert app.title[0].value == "Surveys"
    assert [s.value for s in app.subheader] == ["Weekly pulse", "Monthly check-in", "Upcoming windows"]
    app.number_input(key="days_monthly_checkin").set_value(5)
    app.toggle(key="active_weekly_pulse").set_value(True)  # unchanged
    app.button(key="FormSubmitter:edit_monthly_checkin-Save").click().run()
    _no_exception(app)
    assert "Monthly check-in: saved" in app.success[0].value
    assert any(
        c.value.startswith("Monthly, open 5 days · changed") and c.value.endswith("by hr")
        for c in app.caption
    )

    app.text_input(key="custom_key_monthly_checkin").input("team_support")
    app.text_input(key="custom_text_monthly_checkin").input("My team supports me.")
    app.selectbox(key="custom_kind_monthly_checkin").set_value("scale")
    app.button(key="FormSubmitter:custom_monthly_checkin-Add question").click().run()
    _no_exception(app)
    assert "question 'team_support' added" in app.success[0].value
    [questions] = [d.value for d in app.dataframe if "answered as" in d.value.columns]  # the weekly has none
    assert list(questions["question"])[-1] == "team_support"
    assert list(questions["answered as"])[-1] == "0–10: 0 … 10"

    app.number_input(key="days_weekly_pulse").set_value(9)
    app.button(key="FormSubmitter:edit_weekly_pulse-Save").click().run()
    assert "stays open 1 to 7 days" in app.error[0].value

    actions = [(e.username, e.action) for e in _audit(engine)]
    assert actions == [("hr", "survey_definition_changed"), ("hr", "survey_question_added")]
    with Session(engine) as session:
        monthly = session.exec(
            select(SurveyDefinition).where(SurveyDefinition.key == "monthly_checkin")
        ).one()
        assert monthly.window_days == 5 and "team_support" in json.loads(monthly.items)


@pytest.mark.parametrize("role", ["agent", "lead"])
def test_page_refuses_agents_and_leads(engine, role):
    people = _people(engine)
    app = _page(people[role])
    _no_exception(app)
    assert "Not allowed" in app.error[0].value
    assert not app.title and not app.dataframe
    assert [(e.username, e.action) for e in _audit(engine)] == [(role, "access_denied")]
