"""Survey windows and in-app reminders on both back ends: local period boundaries (Lisbon, across
both clock changes), idempotence under reruns and a second worker, the pulse rotation, inactive
definitions, and reminders that reach each non-responder at most once per slot and nobody else."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ax.access import Viewer
from ax.accounts import viewer_for
from ax.instruments import CBI_WORK_ITEMS, SINGLE_BURNOUT_ITEM, WHO5_ITEMS, weekly_pulse_items
from ax.notifications import my_notifications
from ax.settings import Settings
from ax.survey_windows import (
    LAST_DAY,
    OPENING,
    REMINDER_KIND,
    open_and_close_windows,
    reminder_key,
    run_survey_windows,
    seed_default_definitions,
    send_reminders,
    week_index,
)
from db.models import Agent, Notification, PulseAnswer, PulseSurvey, Role, SurveyDefinition, User

LISBON = Settings(timezone="Europe/Lisbon", reminder_hour=9)


def _seed(engine: Engine, **changes: dict) -> None:
    """The shipped definitions, with ``changes`` by key (e.g. ``weekly_pulse={"active": False}``)."""
    with Session(engine) as session:
        seed_default_definitions(session)
        for key, values in changes.items():
            definition = session.exec(select(SurveyDefinition).where(SurveyDefinition.key == key)).one()
            for name, value in values.items():
                setattr(definition, name, value)
            session.add(definition)
        session.commit()


def _windows(engine: Engine) -> dict[str, PulseSurvey]:
    with Session(engine) as session:
        return {w.key: w for w in session.exec(select(PulseSurvey)).all()}


def _open(engine: Engine, now: datetime) -> int:
    return open_and_close_windows(engine, now, settings=LISBON)


def _agent(engine: Engine, name: str, **fields) -> int:
    with Session(engine) as session:
        agent = Agent(source="test", external_id=name.lower(), name=name, **fields)
        session.add(agent)
        session.commit()
        return agent.id


def _answer(engine: Engine, survey_key: str, agent_id: int) -> None:
    with Session(engine) as session:
        survey = session.exec(select(PulseSurvey).where(PulseSurvey.key == survey_key)).one()
        session.add(
            PulseAnswer(
                source="ax",
                external_id=f"{survey_key}-{agent_id}",
                survey_id=survey.id,
                agent_id=agent_id,
                item_key="single_burnout",
                value=2,
                answered_at=survey.opens_at + timedelta(hours=1),
            )
        )
        session.commit()


def _notifications(engine: Engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def test_seeding_is_idempotent_and_never_overwrites_an_admins_edit(engine):
    with Session(engine) as session:
        assert seed_default_definitions(session) == 2
        pulse = session.exec(select(SurveyDefinition).where(SurveyDefinition.key == "weekly_pulse")).one()
        assert (pulse.cadence, pulse.rotation, pulse.window_days, json.loads(pulse.items)) == (
            "weekly",
            True,
            7,
            [],
        )
        pulse.window_days, pulse.active = 5, False
        session.add(pulse)
        session.commit()
        assert seed_default_definitions(session) == 0
        rows = session.exec(select(SurveyDefinition).order_by(col(SurveyDefinition.key))).all()
    assert [(d.key, d.cadence, d.window_days, d.active) for d in rows] == [
        ("monthly_checkin", "monthly", 7, True),
        ("weekly_pulse", "weekly", 5, False),
    ]
    assert len(json.loads(rows[0].items)) == 14


def test_weekly_windows_open_at_monday_midnight_lisbon_time_across_both_clock_changes(engine):
    _seed(engine, monthly_checkin={"active": False})
    # Spring: Monday 23 March 2026 00:00 WET (UTC+0); the clocks go forward on Sunday 29 March.
    assert _open(engine, datetime(2026, 3, 22, 23, 59, tzinfo=UTC)) == 1  # the week of 16 March, still open
    assert "weekly-pulse-2026-W13" not in _windows(engine)
    assert _open(engine, datetime(2026, 3, 23, 0, 0, tzinfo=UTC)) == 1
    spring = _windows(engine)["weekly-pulse-2026-W13"]
    assert spring.opens_at == datetime(2026, 3, 23, 0, 0, tzinfo=UTC)
    assert spring.closes_at == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # Monday 30 March 00:00 WEST
    assert spring.closes_at - spring.opens_at == timedelta(hours=167)
    # Autumn: Monday 19 October 00:00 WEST is Sunday 23:00 UTC; the clocks go back on 25 October.
    _open(engine, datetime(2026, 10, 18, 22, 59, tzinfo=UTC))
    assert "weekly-pulse-2026-W43" not in _windows(engine)
    assert _open(engine, datetime(2026, 10, 18, 23, 0, tzinfo=UTC)) == 1
    autumn = _windows(engine)["weekly-pulse-2026-W43"]
    assert autumn.opens_at == datetime(2026, 10, 18, 23, 0, tzinfo=UTC)
    assert autumn.closes_at == datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
    assert autumn.closes_at - autumn.opens_at == timedelta(hours=169)
    assert (autumn.title, autumn.instrument) == ("Weekly pulse, week 43 of 2026", "pulse")


def test_monthly_and_quarterly_windows_open_on_the_local_first_day(engine):
    _seed(engine, weekly_pulse={"active": False})
    assert _open(engine, datetime(2026, 3, 31, 22, 59, tzinfo=UTC)) == 0  # 31 March, 23:59 in Lisbon
    assert _open(engine, datetime(2026, 3, 31, 23, 0, tzinfo=UTC)) == 1  # 1 April, 00:00 WEST
    monthly = _windows(engine)["monthly-checkin-2026-04"]
    assert (monthly.opens_at, monthly.closes_at) == (
        datetime(2026, 3, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 4, 7, 23, 0, tzinfo=UTC),
    )
    assert len(json.loads(monthly.items)) == 14 and monthly.title == "Monthly check-in, April 2026"

    _seed(engine, monthly_checkin={"cadence": "quarterly", "window_days": 10})
    assert _open(engine, datetime(2026, 7, 1, 8, 0, tzinfo=UTC)) == 1
    quarterly = _windows(engine)["monthly-checkin-2026-Q3"]
    assert quarterly.opens_at == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert quarterly.closes_at == datetime(2026, 7, 10, 23, 0, tzinfo=UTC)
    assert _open(engine, datetime(2026, 8, 1, 8, 0, tzinfo=UTC)) == 0  # no window mid-quarter


def test_a_rerun_or_a_second_worker_opens_each_window_once(engine):
    _seed(engine)
    now = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(_open(engine, now))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 0, 0, 1]
    assert _open(engine, now) == 0
    assert list(_windows(engine)) == ["monthly-checkin-2026-04"]


def test_the_pulse_rotates_weekly_and_gives_way_to_the_monthly_check_in(engine):
    _seed(engine)
    mondays = [datetime(2026, 1, d, 10, 0, tzinfo=UTC) for d in (5, 12, 19, 26)]
    for monday in mondays:
        _open(engine, monday)
    _open(engine, datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    windows = _windows(engine)
    # 1 February is a Sunday: the week of 26 January has the check-in, not a pulse. (On 5 January
    # the January check-in, open 1-7 January, was still open, so a late worker opened it then.)
    assert sorted(windows) == [
        "monthly-checkin-2026-01",
        "monthly-checkin-2026-02",
        "weekly-pulse-2026-W02",
        "weekly-pulse-2026-W03",
        "weekly-pulse-2026-W04",
    ]
    asked: list[str] = []
    for monday, key in zip(mondays, ("W02", "W03", "W04"), strict=False):
        items = json.loads(windows[f"weekly-pulse-2026-{key}"].items)
        expected = [i.key for i in weekly_pulse_items(week_index(monday.date()))]
        assert items == expected and items[-1] == SINGLE_BURNOUT_ITEM.key
        asked += items[:-1]
    assert sorted(asked) == sorted(i.key for i in (*WHO5_ITEMS, *CBI_WORK_ITEMS))  # all twelve in three weeks


def test_inactive_definitions_open_nothing_and_stop_replacing_the_pulse(engine):
    _seed(engine, weekly_pulse={"active": False}, monthly_checkin={"active": False})
    assert _open(engine, datetime(2026, 1, 27, 10, 0, tzinfo=UTC)) == 0
    _seed(engine, weekly_pulse={"active": True})
    assert _open(engine, datetime(2026, 1, 27, 10, 0, tzinfo=UTC)) == 1
    assert list(_windows(engine)) == ["weekly-pulse-2026-W05"]  # the check-in is off: no skip


def test_extra_questions_ride_along_with_the_rotation(engine):
    _seed(engine, weekly_pulse={"items": json.dumps(["enps"])}, monthly_checkin={"active": False})
    _open(engine, datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    items = json.loads(_windows(engine)["weekly-pulse-2026-W02"].items)
    assert len(items) == 6 and items[-1] == "enps"


# --- reminders ---------------------------------------------------------------------------------


def _viewer(engine: Engine, username: str, role: Role, agent_id: int | None = None) -> Viewer:
    with Session(engine) as session:
        user = User(username=username, display_name=username, role=role.value, agent_id=agent_id)
        session.add(user)
        session.commit()
        return viewer_for(session, user)


def test_reminders_reach_each_non_responder_once_per_slot_and_nobody_else(engine):
    _seed(engine, monthly_checkin={"active": False})
    waiting = _agent(engine, "Ana")
    answered = _agent(engine, "Bruno")
    _agent(engine, "Carla", active=False)
    _agent(engine, "Duarte", deleted=True)
    lead = _viewer(engine, "lead", Role.lead)
    ana = _viewer(engine, "ana", Role.agent, waiting)
    monday = datetime(2026, 1, 5, tzinfo=UTC)  # Lisbon is on UTC in winter
    _open(engine, monday)
    _answer(engine, "weekly-pulse-2026-W02", answered)

    assert (
        send_reminders(engine, monday + timedelta(hours=8, minutes=59), settings=LISBON) == 0
    )  # before 09:00
    assert send_reminders(engine, monday + timedelta(hours=9), settings=LISBON) == 1
    assert send_reminders(engine, monday + timedelta(hours=9, minutes=15), settings=LISBON) == 0
    assert (
        send_reminders(engine, monday + timedelta(days=3, hours=10), settings=LISBON) == 0
    )  # mid-week: quiet
    sunday = monday + timedelta(days=6, hours=9)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(send_reminders(engine, sunday, settings=LISBON)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]  # two workers at once: the last-day reminder still goes once
    assert send_reminders(engine, monday + timedelta(days=7, hours=10), settings=LISBON) == 0  # closed

    rows = _notifications(engine)
    assert [(n.dedupe_key, n.agent_id, n.user_id, n.kind) for n in rows] == [
        (reminder_key("weekly-pulse-2026-W02", waiting, OPENING), waiting, ana.user_id, REMINDER_KIND),
        (reminder_key("weekly-pulse-2026-W02", waiting, LAST_DAY), waiting, ana.user_id, REMINDER_KIND),
    ]
    assert "open until Sunday 11 January" in rows[0].text and "Last day" in rows[1].text
    assert all("Ana" not in n.text and "Bruno" not in n.text for n in rows)
    assert rows[0].sent_at is None and rows[0].send_error is None  # in-app only: nothing configured
    # The lead learns nothing about who has not answered; Ana sees her latest reminder only.
    with Session(engine) as session:
        assert my_notifications(session, lead, now=sunday) == []
        assert [n.text for n in my_notifications(session, ana, now=sunday)] == [rows[1].text]


def test_reminders_skip_windows_from_imports_and_switched_off_definitions(engine):
    _seed(engine, monthly_checkin={"active": False})
    _agent(engine, "Ana")
    monday = datetime(2026, 1, 5, 10, tzinfo=UTC)
    with Session(engine) as session:
        session.add(
            PulseSurvey(
                key="pulse-2026-W02",
                title="Imported pulse",
                instrument="pulse",
                opens_at=monday - timedelta(hours=10),
                closes_at=monday + timedelta(days=6),
            )
        )
        session.commit()
    _open(engine, monday)
    _seed(engine, weekly_pulse={"active": False})
    assert send_reminders(engine, monday, settings=LISBON) == 0
    _seed(engine, weekly_pulse={"active": True})
    assert send_reminders(engine, monday, settings=LISBON) == 1
    assert [n.dedupe_key.split(":")[1] for n in _notifications(engine)] == ["weekly-pulse-2026-W02"]


def test_worker_job_seeds_opens_and_reminds(engine):
    _agent(engine, "Ana")
    assert run_survey_windows(engine, datetime(2026, 1, 12, 10, tzinfo=UTC)) == 2  # one window, one reminder
    assert run_survey_windows(engine, datetime(2026, 1, 12, 10, 15, tzinfo=UTC)) == 0
    assert len(_windows(engine)) == 1 and len(_notifications(engine)) == 1


def test_ax_init_adds_the_default_surveys_once(store):
    from typer.testing import CliRunner

    from ax.cli import app

    first, second = CliRunner().invoke(app, ["init"]), CliRunner().invoke(app, ["init"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert "default surveys added: 2" in first.output and "default surveys" not in second.output
    with Session(store.engine) as session:
        keys = session.exec(select(SurveyDefinition.key).order_by(col(SurveyDefinition.key))).all()
    assert keys == ["monthly_checkin", "weekly_pulse"]
