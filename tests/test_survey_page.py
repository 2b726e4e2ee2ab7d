"""The agent's Check-in page through Streamlit's AppTest: answer, skip, invalid input, races, roles."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from ax.access import Viewer
from ax.accounts import create_user
from ax.surveys import submit_answers
from db.models import Agent, AuditEvent, PulseAnswer, PulseSurvey, Role
from pages.common import SIGNED_IN_AT_KEY, VIEWER_KEY
from tests.test_pages import sign_in

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
PAGE = "pages/survey.py"
PASSWORD = "check-in"
ITEMS = ["who5_1", "who5_2", "cbi_work_1", "single_burnout", "enps", "custom_text"]


class Setup:
    """One agent with a closed, answered window (for history) and, unless told, one open window."""

    def __init__(self, engine, *, open_window: bool = True) -> None:
        self.engine = engine
        now = datetime.now(UTC)
        with Session(engine, expire_on_commit=False) as s:
            agent = Agent(source="t", external_id="a1", name="Ana Silva", timezone="Europe/Lisbon")
            s.add(agent)
            s.flush()
            self.agent_id = agent.id
            user = create_user(s, username="ana", password=PASSWORD, role=Role.agent, agent_id=agent.id)
            self.viewer = Viewer(user.id, "ana", "Ana Silva", Role.agent, agent_id=agent.id)
            for role in (Role.lead, Role.hr):
                create_user(s, username=role.value, password=PASSWORD, role=role)
            closed = PulseSurvey(
                key="old",
                title="Monthly check-in, February",
                instrument="custom",
                opens_at=now - timedelta(days=40),
                closes_at=now - timedelta(days=33),
                items=json.dumps([f"who5_{i}" for i in range(1, 6)]),
            )
            s.add(closed)
            self.next_opens = now + timedelta(days=3)
            s.add(
                PulseSurvey(
                    key="next",
                    title="Weekly pulse, next week",
                    instrument="pulse",
                    opens_at=self.next_opens,
                    closes_at=self.next_opens + timedelta(days=7),
                )
            )
            self.survey_id: int | None = None
            if open_window:
                window = PulseSurvey(
                    key="now",
                    title="Weekly pulse, this week",
                    instrument="pulse",
                    opens_at=now - timedelta(days=1),
                    closes_at=now + timedelta(days=2),
                    items=json.dumps(ITEMS),
                )
                s.add(window)
                s.flush()
                self.survey_id = window.id
            s.commit()
            submit_answers(
                s,
                self.viewer,
                closed.id,
                {f"who5_{i}": 2 for i in range(1, 6)},
                now=closed.opens_at + timedelta(hours=2),
            )

    def answers(self) -> dict[str, tuple]:
        with Session(self.engine) as s:
            rows = s.exec(
                select(PulseAnswer.item_key, PulseAnswer.value, PulseAnswer.text).where(
                    PulseAnswer.survey_id == self.survey_id
                )
            ).all()
        return {key: (value, text) for key, value, text in rows}

    def key(self, item: str) -> str:
        return f"checkin-{self.survey_id}-{item}"


def open_page(username: str = "ana") -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    sign_in(app, username, PASSWORD)
    return app.switch_page(PAGE).run()


def _ok(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def _send(app: AppTest) -> AppTest:
    return app.button(key="checkin_send").click().run()


def _form_block(app: AppTest):
    """The check-in form's block in the element tree (its children in the order drawn)."""
    forms = [child for child in app.main.children.values() if child.type == "form"]
    assert len(forms) == 1
    return forms[0]


def _charts(app: AppTest) -> list:
    return app.get("vega_lite_chart")


def test_agent_answers_in_one_form_and_sees_thanks_and_history(store):
    setup = Setup(store.engine)
    app = open_page()
    _ok(app)
    assert app.title[0].value == "Check-in"
    assert app.subheader[0].value == "Weekly pulse, this week"
    assert any("never see your answers" in i.value and "at least 5 people" in i.value for i in app.info)
    assert app.radio(key=setup.key("who5_1")).options[0] == "At no time"
    assert app.radio(key=setup.key("who5_1")).value is None  # nothing is pre-selected
    assert [m.value for m in app.markdown if m.value.startswith("*Over")] == ["*Over the last two weeks…*"]

    app.radio(key=setup.key("who5_1")).set_value(4)
    app.radio(key=setup.key("who5_2")).set_value(3)
    app.radio(key=setup.key("cbi_work_1")).set_value(1)
    app.radio(key=setup.key("single_burnout")).set_value(2)
    app.segmented_control(key=setup.key("enps")).set_value(9)
    app.text_area(key=setup.key("custom_text")).input("More breaks on Mondays, please")
    _send(app)
    _ok(app)

    assert "Thank you!" in app.success[0].value and "6 answered" in app.success[0].value
    assert not app.radio  # the form is gone: this window is answered
    assert setup.answers() == {
        "who5_1": (4.0, None),
        "who5_2": (3.0, None),
        "cbi_work_1": (1.0, None),
        "single_burnout": (2.0, None),
        "enps": (9.0, None),
        "custom_text": (None, "More breaks on Mondays, please"),
    }
    assert [s.value for s in app.subheader] == ["Your history"]
    assert len(_charts(app)) == 3  # WHO-5 (February), single item and eNPS (this week)
    summary = " ".join(m.value for m in app.markdown)
    assert "Wellbeing (WHO-5): 40" in summary and "Burnout (one question, 1–5): 2" in summary
    assert "the line marks 50 or below: low wellbeing" in summary


def test_agent_can_skip_questions_and_undo_a_choice(store):
    setup = Setup(store.engine)
    app = open_page()
    app.radio(key=setup.key("who5_1")).set_value(2)
    app.radio(key=setup.key("who5_2")).set_value(1)
    app.radio(key=setup.key("who5_2")).set_value("skip")  # changed their mind
    assert app.radio(key=setup.key("who5_2")).options[-1] == "Skip this question"
    _send(app)
    _ok(app)
    assert "1 answered, 5 skipped" in app.success[0].value
    assert setup.answers() == {"who5_1": (2.0, None)}


def test_invalid_answers_are_explained_next_to_the_question_and_nothing_is_stored(store):
    setup = Setup(store.engine)
    app = open_page()
    _send(app)  # nothing answered at all
    _ok(app)
    assert [e.value for e in app.error] == [
        "Nothing to send: answer at least one question, or come back before the check-in closes."
    ]
    text = app.text_area(key=setup.key("custom_text"))
    assert text.max_chars == 1000  # the field itself stops an over-long comment
    app.radio(key=setup.key("who5_1")).set_value(3)
    text.input("Breaks\x00please")  # a character the store cannot hold, pasted from somewhere
    _send(app)
    _ok(app)
    assert [e.value for e in app.error] == [
        "The text contains a character that cannot be stored; please retype it.",
        "1 answer needs another look; nothing was saved yet.",
    ]
    form = _form_block(app)
    kinds = [(child.type, getattr(child, "key", None)) for child in form.children.values()]
    at = kinds.index(("text_area", setup.key("custom_text")))
    assert kinds[at + 1][0] == "error"  # the message sits right under its question
    assert app.text_area(key=setup.key("custom_text")).value == "Breaks\x00please"  # kept, to fix
    assert app.radio(key=setup.key("who5_1")).value == 3
    assert setup.answers() == {}

    app.text_area(key=setup.key("custom_text")).input("Breaks please")
    _send(app)
    _ok(app)
    assert not app.error and "2 answered" in app.success[0].value
    assert setup.answers() == {"who5_1": (3.0, None), "custom_text": (None, "Breaks please")}


def test_a_check_in_that_closes_while_the_form_is_open_says_so(store):
    setup = Setup(store.engine)
    app = open_page()
    with Session(store.engine) as s:
        window = s.get(PulseSurvey, setup.survey_id)
        window.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        s.add(window)
        s.commit()
    app.radio(key=setup.key("who5_1")).set_value(3)
    _send(app)
    _ok(app)
    assert "answers can no longer be sent" in app.warning[0].value
    assert not app.radio and setup.answers() == {}


def test_answering_twice_says_so_kindly(store):
    setup = Setup(store.engine)
    app = open_page()
    with Session(store.engine) as s:  # the same agent, in another tab, a moment earlier
        submit_answers(s, setup.viewer, setup.survey_id, {"enps": 7})
    app.radio(key=setup.key("who5_1")).set_value(0)
    _send(app)
    _ok(app)
    assert "You have already answered this check-in" in app.warning[0].value
    assert "You've answered “Weekly pulse, this week”" in app.success[0].value
    assert not app.radio
    assert setup.answers() == {"enps": (7.0, None)}


def test_no_open_check_in_says_when_the_next_opens_and_shows_history(store):
    setup = Setup(store.engine, open_window=False)
    app = open_page()
    _ok(app)
    local = setup.next_opens.astimezone(ZoneInfo("Europe/Lisbon"))
    assert (
        app.info[0].value == f"No check-in is open right now. The next one opens on {local:%a %d %b, %H:%M}."
    )
    assert not app.radio and not app.segmented_control
    assert [s.value for s in app.subheader] == ["Your history"]
    assert len(_charts(app)) == 1
    assert any("Wellbeing (WHO-5): 40" in m.value for m in app.markdown)


@pytest.mark.parametrize("role", ["lead", "hr"])
def test_leads_and_hr_cannot_open_the_check_in(store, role):
    Setup(store.engine)
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    sign_in(app, role, PASSWORD)
    _ok(app)
    with pytest.raises(ValueError, match="registered"):
        app.switch_page(PAGE)  # not in their navigation

    with Session(store.engine) as s:  # and run directly, the ax layer refuses and audits it
        from ax.accounts import viewer_for
        from db.models import User

        viewer = viewer_for(s, s.exec(select(User).where(User.username == role)).one())
    page = AppTest.from_file(str(ROOT / PAGE), default_timeout=60)
    page.session_state[VIEWER_KEY] = viewer
    page.session_state[SIGNED_IN_AT_KEY] = time.time()
    page.run()
    _ok(page)
    assert page.error[0].value.startswith(f"Not allowed: {role} ({role}) may not see the check-ins of")
    assert not page.radio and not page.subheader
    with Session(store.engine) as s:
        refused = s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.username == role, AuditEvent.action == "access_denied")
        ).one()
    assert refused == 1
