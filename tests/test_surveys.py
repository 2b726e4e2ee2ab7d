"""ax/surveys.py on SQLite and PostgreSQL: open check-ins, all-or-nothing answers, own history, races."""

from __future__ import annotations

import inspect
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.instruments import weekly_pulse_items
from ax.surveys import (
    SOURCE,
    SurveyError,
    check_in,
    history_summary,
    my_history,
    open_surveys,
    submit_answers,
    window_items,
)
from db.models import Agent, AuditEvent, PulseAnswer, PulseSurvey, Role, SurveyDefinition, User

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SECRET = "MY-PRIVATE-WORDS"  # text an agent typed: must never surface in errors or logs
MONTHLY = [f"who5_{i}" for i in range(1, 6)] + ["cbi_work_1", "cbi_work_2", "single_burnout", "enps"]
OPEN_ITEMS = [*MONTHLY, "custom_text", "team_support"]
CUSTOM = [{"key": "team_support", "text": "My team supports me", "kind": "likert"}]


def _window(key: str, opens: datetime, days: int = 7, **extra) -> PulseSurvey:
    return PulseSurvey(
        key=key,
        title=extra.pop("title", f"Check-in {key}"),
        instrument=extra.pop("instrument", "custom"),
        opens_at=opens,
        closes_at=opens + timedelta(days=days),
        **extra,
    )


class Org:
    """Two agents, a lead and an HR user; an open window, a closed one and a future one."""

    def __init__(self, engine, agents: int = 2) -> None:
        self.engine = engine
        with Session(engine, expire_on_commit=False) as s:
            s.execute(
                insert(Agent),
                [{"source": "t", "external_id": f"a{n}", "name": f"Agent {n}"} for n in range(agents)],
            )
            self.agent_ids = list(s.exec(select(Agent.id).order_by(Agent.id)))
            definition = SurveyDefinition(
                key="monthly", title="Monthly check-in", cadence="monthly", custom_items=json.dumps(CUSTOM)
            )
            s.add(definition)
            s.flush()
            self.open = _window(
                "m-03", NOW - timedelta(days=1), items=json.dumps(OPEN_ITEMS), definition_id=definition.id
            )
            self.closed = _window("m-02", NOW - timedelta(days=30), items=json.dumps(MONTHLY))
            self.future = _window("m-04", NOW + timedelta(days=6), items=json.dumps(MONTHLY))
            s.add_all([self.open, self.closed, self.future])
            users = {}
            for role in (Role.lead, Role.hr):
                user = User(username=role.value, display_name=role.value, role=role.value)
                s.add(user)
                s.flush()
                users[role] = user.id
            s.commit()
        self.lead = Viewer(users[Role.lead], "lead", "Lea", Role.lead, team_ids=frozenset({1}))
        self.hr = Viewer(users[Role.hr], "hr", "Hana", Role.hr)

    def agent(self, n: int = 0) -> Viewer:
        return Viewer(0, f"agent{n}", f"Agent {n}", Role.agent, agent_id=self.agent_ids[n], timezone="UTC")

    def submit(self, viewer: Viewer, answers: dict, survey_id: int | None = None, now: datetime = NOW):
        survey_id = self.open.id if survey_id is None else survey_id
        with Session(self.engine) as s:
            return submit_answers(s, viewer, survey_id, answers, now=now)

    def answers(self) -> list[tuple]:
        with Session(self.engine) as s:
            return list(
                s.exec(
                    select(PulseAnswer.agent_id, PulseAnswer.item_key, PulseAnswer.value, PulseAnswer.text)
                    .where(PulseAnswer.survey_id == self.open.id)
                    .order_by(PulseAnswer.agent_id, PulseAnswer.item_key)
                )
            )

    def count(self) -> int:
        with Session(self.engine) as s:
            return s.exec(select(func.count()).select_from(PulseAnswer)).one()


@pytest.fixture
def org(engine) -> Org:
    return Org(engine)


FULL = {f"who5_{i}": 3 for i in range(1, 6)} | {
    "cbi_work_1": 2,
    "cbi_work_2": "3",  # a form or CSV may send text
    "single_burnout": 2,
    "enps": 8,
    "custom_text": f"  {SECRET}  ",
    "team_support": 4,
}


def test_open_check_in_lists_its_questions_with_custom_ones(org):
    with Session(org.engine) as s:
        status = check_in(s, org.agent(), now=NOW)
    assert [w.id for w in status.open] == [org.open.id]
    assert [i.key for i in status.open[0].items] == OPEN_ITEMS
    support = status.open[0].items[-1]
    assert support.text == "My team supports me" and (support.min, support.max) == (1, 5)
    assert status.answered == [] and status.next_opens_at == org.future.opens_at


def test_submit_then_history(org):
    receipt = org.submit(org.agent(), FULL)
    assert (receipt.answered, receipt.skipped) == (11, 0)
    stored = org.answers()
    assert len(stored) == 11 and {a for a, *_ in stored} == {org.agent_ids[0]}
    assert dict((k, t) for _, k, _, t in stored)["custom_text"] == SECRET
    assert dict((k, v) for _, k, v, _ in stored)["cbi_work_2"] == 3.0
    with Session(org.engine) as s:
        rows = s.exec(select(PulseAnswer).where(PulseAnswer.survey_id == org.open.id)).all()
        assert {r.source for r in rows} == {SOURCE} and all(r.external_id.startswith("ax-") for r in rows)
        assert {r.answered_at for r in rows} == {NOW}
        status = check_in(s, org.agent(), now=NOW)
        assert status.open == [] and [a.id for a in status.answered] == [org.open.id]
        history = my_history(s, org.agent())
        assert my_history(s, org.agent(1)) == []  # the other agent's history is their own
    scores = {p.instrument: p.value for p in history}
    # WHO-5 3×5 = 15 × 4 = 60; CBI needs 4 of 7 work items (2 answered): none; single 2; eNPS 8
    assert scores == {"who5": 60.0, "single_burnout": 2.0, "enps": 8.0}
    assert {p.survey_id for p in history} == {org.open.id}
    summary = history_summary(history)
    assert summary[0].startswith("Wellbeing (WHO-5): 60 on 31 Mar 2026, wellbeing in the usual range")
    assert "50 or below: low wellbeing" in summary[0]


def test_history_has_one_point_per_window_oldest_first(org):
    org.submit(org.agent(), {f"who5_{i}": 1 for i in range(1, 6)}, org.closed.id, now=org.closed.opens_at)
    org.submit(org.agent(), {f"who5_{i}": 4 for i in range(1, 6)})
    with Session(org.engine) as s:
        history = my_history(s, org.agent())
    assert [(p.survey_id, p.value, p.concern) for p in history] == [
        (org.closed.id, 20.0, True),
        (org.open.id, 80.0, False),
    ]
    summary = history_summary(history)
    assert "80 on 31 Mar 2026" in summary[0] and "Before that: 20 on 01 Mar" in summary[0]


def test_skipped_questions_are_not_stored(org):
    answers = dict.fromkeys(OPEN_ITEMS) | {"who5_1": 0, "custom_text": "   ", "enps": ""}
    receipt = org.submit(org.agent(), answers)
    assert (receipt.answered, receipt.skipped) == (1, 10)
    assert org.answers() == [(org.agent_ids[0], "who5_1", 0.0, None)]


def test_skipping_everything_sends_nothing(org):
    with pytest.raises(SurveyError) as caught:
        org.submit(org.agent(), dict.fromkeys(OPEN_ITEMS))
    assert caught.value.reason == "nothing_to_send" and org.count() == 0
    with Session(org.engine) as s:
        assert [w.id for w in open_surveys(s, org.agent(), now=NOW)] == [org.open.id]


@pytest.mark.parametrize(
    ("bad", "key", "fragment"),
    [
        ({"who5_1": 66}, "who5_1", "Please pick one of the options shown (a whole number from 0 to 5)"),
        ({"who5_1": 2.5}, "who5_1", "whole number from 0 to 5"),
        ({"enps": 11}, "enps", "Please pick a whole number from 0 to 10"),
        ({"who5_1": SECRET}, "who5_1", "Please pick one of the options shown"),
        ({"who5_1": True}, "who5_1", "Please pick one of the options shown"),
        ({"who5_1": [3]}, "who5_1", "Please pick one of the options shown"),
        ({"custom_text": 5}, "custom_text", "Please type your answer as text"),
        ({"custom_text": SECRET + "x" * 1000}, "custom_text", "keep it to 1000 characters (this is 1016)"),
        ({"custom_text": f"{SECRET}\x00"}, "custom_text", "cannot be stored"),
        ({"cbi_work_3": 1}, "cbi_work_3", "not part of this check-in"),
        ({"no_such_question": 1}, "no_such_question", "not part of this check-in"),
    ],
)
def test_each_bad_answer_has_its_message_and_nothing_is_stored(org, caplog, bad, key, fragment):
    caplog.set_level(logging.DEBUG)
    good = {"who5_2": 4, "single_burnout": 1}  # valid answers in the same set are not stored either
    with pytest.raises(SurveyError) as caught:
        org.submit(org.agent(), good | bad)
    error = caught.value
    assert error.reason == "invalid" and list(error.errors) == [key]
    assert fragment in error.errors[key]
    assert str(error) == "1 answer needs another look; nothing was saved yet."
    assert org.count() == 0
    shown = [
        str(error),
        json.dumps(error.errors),
        caplog.text,
        repr(error.__cause__),
        repr(error.__context__),
    ]
    assert not any(SECRET in text or "66" in text for text in shown)


def test_several_bad_answers_are_reported_together(org):
    with pytest.raises(SurveyError) as caught:
        org.submit(org.agent(), {"who5_1": 9, "enps": -1, "who5_2": 3})
    assert sorted(caught.value.errors) == ["enps", "who5_1"]
    assert str(caught.value).startswith("2 answers need another look")
    assert org.count() == 0


def test_unknown_closed_and_future_windows_are_refused(org):
    cases = [
        (999_999, NOW, "unknown_survey", "does not exist"),
        (org.closed.id, NOW, "closed", "closed on Sun 08 Mar 2026, 12:00"),
        (org.future.id, NOW, "not_open", "opens on Mon 06 Apr 2026, 12:00"),
        (org.open.id, org.open.closes_at, "closed", "answers can no longer be sent"),
    ]
    for survey_id, now, reason, fragment in cases:
        with pytest.raises(SurveyError) as caught:
            org.submit(org.agent(), {"who5_1": 3}, survey_id, now=now)
        assert caught.value.reason == reason and fragment in str(caught.value)
    assert org.count() == 0


def test_only_the_agent_themself_can_answer_or_read(org):
    assert "agent_id" not in inspect.signature(submit_answers).parameters  # the API cannot take it
    for fn in (check_in, open_surveys, my_history):
        assert "agent_id" not in inspect.signature(fn).parameters
    for viewer in (org.lead, org.hr):
        with pytest.raises(AccessDenied):
            org.submit(viewer, {"who5_1": 3})
        with Session(org.engine) as s, pytest.raises(AccessDenied):
            my_history(s, viewer)
        with Session(org.engine) as s, pytest.raises(AccessDenied):
            open_surveys(s, viewer, now=NOW)
    assert org.count() == 0
    with Session(org.engine) as s:
        refusals = s.exec(select(AuditEvent.username, AuditEvent.action)).all()
    assert sorted(refusals) == [("hr", "access_denied")] * 3 + [("lead", "access_denied")] * 3


def test_double_submit_is_refused_kindly_and_changes_nothing(org):
    org.submit(org.agent(), {"who5_1": 3, "enps": 7})
    before = org.answers()
    with pytest.raises(SurveyError) as caught:
        org.submit(org.agent(), {"who5_1": 5, "who5_2": 1})
    assert caught.value.reason == "already_answered" and "already answered" in str(caught.value)
    with pytest.raises(SurveyError) as caught:  # the news is "already answered", not the typo
        org.submit(org.agent(), {"who5_1": 99})
    assert caught.value.reason == "already_answered"
    assert org.answers() == before


def test_windows_without_items_fall_back_to_their_instrument(org):
    with Session(org.engine) as s:
        pulse = _window("pulse-w14", NOW - timedelta(hours=1), instrument="pulse")
        who5 = _window("who5-only", NOW - timedelta(hours=1), instrument="who5")
        s.add_all([pulse, who5])
        s.commit()
        monday = datetime(2026, 3, 30, tzinfo=UTC).date()
        expected = [i.key for i in weekly_pulse_items(monday.toordinal() // 7)]
        assert [i.key for i in window_items(pulse, None)] == expected
        assert [i.key for i in window_items(who5, None)] == MONTHLY[:5]
        assert {w.key for w in open_surveys(s, org.agent(), now=NOW)} == {"m-03", "pulse-w14", "who5-only"}


def test_two_submits_of_one_agent_racing_store_one_set(org):
    def race(viewer: Viewer, first: dict, second: dict) -> list[str]:
        barrier = threading.Barrier(2)

        def send(answers: dict) -> str:
            barrier.wait()
            try:
                org.submit(viewer, answers)
            except SurveyError as exc:
                return exc.reason
            return "stored"

        with ThreadPoolExecutor(2) as pool:
            return sorted(pool.map(send, [first, second]))

    # Different questions: only the per-agent write lock can keep it to one set.
    assert race(org.agent(0), {"who5_1": 1, "who5_2": 1}, {"enps": 9}) == ["already_answered", "stored"]
    assert {k for a, k, _, _ in org.answers() if a == org.agent_ids[0]} in ({"who5_1", "who5_2"}, {"enps"})
    # The same answers twice (a double tap): the unique constraint backs the lock up.
    same = {"single_burnout": 2}
    assert race(org.agent(1), same, same) == ["already_answered", "stored"]
    assert [k for a, k, _, _ in org.answers() if a == org.agent_ids[1]] == ["single_burnout"]


def test_a_store_failure_never_shows_the_answers(org, caplog):
    caplog.set_level(logging.DEBUG)
    ghost = Viewer(0, "ghost", "Ghost", Role.agent, agent_id=987_654)  # an agent row that does not exist
    with pytest.raises(IntegrityError) as caught:
        org.submit(ghost, {"custom_text": SECRET})
    assert "hidden" in str(caught.value) and SECRET not in str(caught.value) and SECRET not in caplog.text
    assert org.count() == 0


def test_two_hundred_agents_submitting_at_once_each_store_once(engine):
    org = Org(engine, agents=200)
    barrier = threading.Barrier(200)
    answers = {"who5_1": 3, "who5_2": 4, "single_burnout": 2, "enps": 9, "custom_text": "fine"}

    def send(n: int) -> str:
        barrier.wait()
        org.submit(org.agent(n), answers)
        return "stored"

    with ThreadPoolExecutor(200) as pool:
        outcomes = list(pool.map(send, range(200)))  # any exception ("database is locked") re-raises here
    assert outcomes == ["stored"] * 200
    with Session(engine) as s:
        per_agent = s.exec(select(PulseAnswer.agent_id, func.count()).group_by(PulseAnswer.agent_id)).all()
    assert len(per_agent) == 200 and {n for _, n in per_agent} == {5}
    assert org.count() == 1000
