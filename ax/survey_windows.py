"""Survey windows and reminders: the worker turns survey definitions into dated windows and nudges
the agents who have not answered yet.

Periods start at local midnight in the organisation's timezone (``AX_TIMEZONE``): weekly on
Monday, monthly on the 1st, quarterly on the first day of the quarter. A window is open from
its period's start for ``window_days`` local days, so a week that crosses a clock change lasts
167 or 169 hours, not 168. Window keys are derived from the period (``weekly-pulse-2026-W48``,
``monthly-checkin-2026-12``, ``…-2026-Q4``) and inserted with ``ON CONFLICT DO NOTHING``, so a
rerun or a second worker never opens a window twice. Closing needs no work: a window is closed
once ``closes_at`` has passed, and reminders stop with it.

Reminders (in-app, plus e-mail and a chat channel where configured) go out at most twice per
window and agent, never before ``AX_REMINDER_HOUR`` local time: once on the opening day (or on
the first later day the worker runs) and once on the window's last open day. The notification's
unique ``dedupe_key`` makes "at most once" a database guarantee. Nothing here tells a lead who
has not answered: reminders go to the agent themself, the channel message names nobody.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Table, exists
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from ax.instruments import DEFAULT_SURVEYS, INSTRUMENTS, weekly_pulse_items
from ax.notify import (
    CHECKIN_PAGE,
    Email,
    Outgoing,
    claim_retries,
    deliver,
    email_configured,
    page_link,
    retryable,
    webhook_configured,
)
from ax.settings import Settings, get_settings
from db.engine import session_scope
from db.models import Agent, Notification, PulseAnswer, PulseSurvey, SurveyDefinition, User
from db.types import utcnow
from db.upsert import upsert_statement

log = logging.getLogger("ax.survey_windows")

CADENCES = ("weekly", "monthly", "quarterly")
# Longest window per cadence: a window never reaches into its definition's next period.
MAX_WINDOW_DAYS = {"weekly": 7, "monthly": 28, "quarterly": 90}
REMINDER_KIND = "survey_reminder"
CHANNEL_KIND = "survey_reminder_channel"
REMINDER_PREFIX = "reminder:"
OPENING, LAST_DAY = 1, 2  # the two reminder slots of a window
_REPLACES_PULSE = frozenset(s.key for s in DEFAULT_SURVEYS if s.replaces_weekly_pulse)
_INSTRUMENT_OF = {item.key: key for key, inst in INSTRUMENTS.items() for item in inst.items}


@dataclass(frozen=True)
class WindowPlan:
    """A window a definition opens (or will open): what the worker inserts and the admin page lists."""

    definition_id: int
    definition_title: str
    key: str
    title: str
    instrument: str
    opens_at: datetime
    closes_at: datetime
    items: tuple[str, ...]


def insert_missing(conn: Connection, table: Table, key: str, rows: list[dict]) -> list[tuple[int, str]]:
    """``INSERT … ON CONFLICT (key) DO NOTHING``; (id, key) of the rows this call added.

    The unique key, not a check before the insert, is what keeps a rerun or a second worker from
    adding a row twice.
    """
    stmt = upsert_statement(table, conn.dialect.name, key=(key,), columns=(key,))
    return [(row[0], row[1]) for row in conn.execute(stmt.returning(table.c.id, table.c[key]), rows)]


# --- definitions -------------------------------------------------------------------------------


def seed_default_definitions(session: Session) -> int:
    """Write the shipped surveys (``DEFAULT_SURVEYS``) once; returns how many were added.

    Keys that exist are left exactly as they are (``ON CONFLICT DO NOTHING``), so an admin's edits
    survive every ``ax init`` and every worker start, and two at once cannot insert a key twice.
    """
    rows = [
        {
            "key": default.key,
            "title": default.title,
            "cadence": default.cadence,
            "items": json.dumps(list(default.item_keys)),
            "rotation": default.rotating,
            "custom_items": "[]",
            "window_days": default.open_days,
            "active": True,
            "updated_at": utcnow(),
            "updated_by": None,
        }
        for default in DEFAULT_SURVEYS
    ]
    added = len(insert_missing(session.connection(), SurveyDefinition.__table__, "key", rows))
    session.commit()
    return added


def item_keys_of(definition: SurveyDefinition) -> list[str]:
    """The definition's own item list (with rotation on: the questions asked every week on top)."""
    return list(json.loads(definition.items or "[]"))


# --- periods -----------------------------------------------------------------------------------


def period_start(cadence: str, day: date) -> date:
    """First local day of the period holding ``day``."""
    if cadence == "weekly":
        return day - timedelta(days=day.weekday())
    if cadence == "monthly":
        return day.replace(day=1)
    if cadence == "quarterly":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(f"unknown cadence {cadence!r}; use one of {', '.join(CADENCES)}")


def next_period_start(cadence: str, start: date) -> date:
    if cadence == "weekly":
        return start + timedelta(days=7)
    months = 1 if cadence == "monthly" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def week_index(monday: date) -> int:
    """A week counter that never restarts (ISO week numbers do), so the pulse rotation runs on."""
    return monday.toordinal() // 7


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def window_key(definition_key: str, cadence: str, start: date) -> str:
    """Deterministic, so the database's unique key is what stops a window being opened twice."""
    slug = definition_key.replace("_", "-")
    if cadence == "weekly":
        iso = start.isocalendar()
        return f"{slug}-{iso.year}-W{iso.week:02d}"
    if cadence == "monthly":
        return f"{slug}-{start:%Y-%m}"
    return f"{slug}-{start.year}-Q{(start.month - 1) // 3 + 1}"


def _window_title(title: str, cadence: str, start: date) -> str:
    if cadence == "weekly":
        iso = start.isocalendar()
        return f"{title}, week {iso.week} of {iso.year}"
    if cadence == "monthly":
        return f"{title}, {start:%B %Y}"
    return f"{title}, Q{(start.month - 1) // 3 + 1} {start.year}"


def window_items(definition: SurveyDefinition, start: date) -> tuple[str, ...]:
    """The window's questions: the week's rotating pulse plus any fixed extras, or the fixed list."""
    keys = item_keys_of(definition)
    if definition.rotation:
        rotating = [item.key for item in weekly_pulse_items(week_index(start))]
        return (*rotating, *(key for key in keys if key not in rotating))
    return tuple(keys)


def _instrument(definition: SurveyDefinition, items: Sequence[str]) -> str:
    """The window's label: its one instrument, ``custom``, or ``pulse`` for a mix (scored per instrument)."""
    if definition.rotation:
        return "pulse"
    owners = {_INSTRUMENT_OF.get(key, "custom") for key in items}
    return owners.pop() if len(owners) == 1 else "pulse"


def plan_window(definition: SurveyDefinition, start: date, zone: ZoneInfo) -> WindowPlan:
    items = window_items(definition, start)
    return WindowPlan(
        definition_id=definition.id,
        definition_title=definition.title,
        key=window_key(definition.key, definition.cadence, start),
        title=_window_title(definition.title, definition.cadence, start),
        instrument=_instrument(definition, items),
        opens_at=local_midnight(start, zone),
        closes_at=local_midnight(start + timedelta(days=definition.window_days), zone),
        items=items,
    )


def _replaced_week(definitions: Iterable[SurveyDefinition], monday: date) -> bool:
    """True when a check-in that carries the weekly pulse's questions opens this week.

    The shipped monthly check-in (``replaces_weekly_pulse``) asks the single burnout item too, so
    that week's pulse is skipped rather than asking the same people twice in a few days.
    """
    days = [monday + timedelta(days=n) for n in range(7)]
    return any(
        definition.key in _REPLACES_PULSE and any(period_start(definition.cadence, d) == d for d in days)
        for definition in definitions
        if definition.active and definition.cadence != "weekly"
    )


def _skipped(definition: SurveyDefinition, start: date, definitions: Sequence[SurveyDefinition]) -> bool:
    """The rotating weekly pulse gives way to a replacing check-in in the same week."""
    return definition.cadence == "weekly" and definition.rotation and _replaced_week(definitions, start)


def due_windows(definitions: Sequence[SurveyDefinition], now: datetime, zone: ZoneInfo) -> list[WindowPlan]:
    """Windows that should exist and be open now: each active definition's current period, if its
    window has not ended yet (a worker that was down on Monday still opens Tuesday)."""
    today = now.astimezone(zone).date()
    plans = []
    for definition in definitions:
        if not definition.active:
            continue
        start = period_start(definition.cadence, today)
        plan = plan_window(definition, start, zone)
        if plan.closes_at > now and not _skipped(definition, start, definitions):
            plans.append(plan)
    return plans


def upcoming_windows(
    definitions: Sequence[SurveyDefinition], now: datetime, zone: ZoneInfo, *, per_definition: int = 3
) -> list[WindowPlan]:
    """The open and next windows of each active definition, soonest first (for the admin page)."""
    today = now.astimezone(zone).date()
    plans = []
    for definition in definitions:
        if not definition.active:
            continue
        start, found = period_start(definition.cadence, today), 0
        while found < per_definition:
            plan = plan_window(definition, start, zone)
            if plan.closes_at > now and not _skipped(definition, start, definitions):
                plans.append(plan)
                found += 1
            start = next_period_start(definition.cadence, start)
    return sorted(plans, key=lambda p: (p.opens_at, p.key))


def _definitions(engine: Engine) -> list[SurveyDefinition]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(SurveyDefinition).order_by(col(SurveyDefinition.id))).all())


def open_and_close_windows(engine: Engine, now: datetime, *, settings: Settings | None = None) -> int:
    """Open the windows whose period has started; returns how many this call created.

    Closing is only ``closes_at`` passing. Items are fixed when a window opens, so an admin's later
    edit applies from the next window and never changes questions people are answering.
    """
    zone = ZoneInfo((settings or get_settings()).timezone)
    plans = due_windows(_definitions(engine), now, zone)
    if not plans:
        return 0
    rows = [
        {
            "key": plan.key,
            "title": plan.title,
            "instrument": plan.instrument,
            "opens_at": plan.opens_at,
            "closes_at": plan.closes_at,
            "definition_id": plan.definition_id,
            "items": json.dumps(list(plan.items)),
        }
        for plan in plans
    ]
    with engine.begin() as conn:
        created = len(insert_missing(conn, PulseSurvey.__table__, "key", rows))
    if created:
        log.info("opened %d survey window(s)", created)
    return created


# --- reminders ---------------------------------------------------------------------------------


def reminder_slot(window: PulseSurvey, now: datetime, zone: ZoneInfo, hour: int) -> int | None:
    """Which reminder is due now: the opening one, the last-day one, or none (before ``hour``)."""
    local = now.astimezone(zone)
    if not window.opens_at <= now < window.closes_at or local.hour < hour:
        return None
    return LAST_DAY if local.date() == last_open_day(window.closes_at, zone) else OPENING


def reminder_key(survey_key: str, who: int | str, slot: int) -> str:
    """``reminder:<survey key>:<agent id or 'channel'>:<slot>``: unique, so each is sent at most once."""
    return f"{reminder_prefix(survey_key, who)}{slot}"


def reminder_prefix(survey_key: str, who: int | str | None = None) -> str:
    """The start shared by a window's reminders (of one recipient, when ``who`` is given)."""
    return f"{REMINDER_PREFIX}{survey_key}:" + ("" if who is None else f"{who}:")


def parse_reminder_key(dedupe_key: str) -> tuple[str, str, int] | None:
    """(survey key, agent id or 'channel', slot) of a reminder's dedupe key, None for other keys."""
    if not dedupe_key.startswith(REMINDER_PREFIX):
        return None
    survey_key, who, slot = dedupe_key.removeprefix(REMINDER_PREFIX).rsplit(":", 2)
    return survey_key, who, int(slot)


def last_open_day(closes_at: datetime, zone: ZoneInfo) -> date:
    """The local day a window is last open on: it closes at the midnight that ends that day."""
    return (closes_at.astimezone(zone) - timedelta(microseconds=1)).date()


def _day_label(closes_at: datetime, zone: ZoneInfo) -> str:
    """The last open day in words, e.g. "Sunday 6 December"."""
    day = last_open_day(closes_at, zone)
    return f"{day:%A} {day.day} {day:%B}"


def reminder_text(title: str, slot: int, until: str) -> str:
    """What the agent reads in the app and in the e-mail: about the survey, never about anyone else."""
    if slot == LAST_DAY:
        return f"Last day: {title} closes at the end of today ({until}). Your answers are confidential."
    return f"{title} is open until {until}. It takes a few minutes, and your answers are confidential."


def channel_text(title: str, slot: int, until: str, link: str | None) -> str:
    """One generic message for the team channel: no names, no counts, nothing about who answered."""
    text = (
        f"Last day for the check-in ({title}): it closes at the end of {until}."
        if slot == LAST_DAY
        else f"The check-in ({title}) is open until {until}: a few minutes, and answers are confidential."
    )
    return f"{text} {link}" if link else text


EMAIL_SUBJECTS = {OPENING: "Your check-in is open", LAST_DAY: "Last day for your check-in"}


def _email_body(text: str, settings: Settings) -> str:
    lines = [text, ""]
    if link := page_link(settings, CHECKIN_PAGE):
        lines += [f"Answer it here: {link}", ""]
    lines.append(
        "Your individual answers are seen by you only; leads and HR see team results of several people."
    )
    return "\n".join(lines)


def _non_responders(session: Session, survey_id: int) -> list[int]:
    """Active agents with no answer in the window (any answer counts: a partial one is not nagged)."""
    answered = exists().where(PulseAnswer.survey_id == survey_id, PulseAnswer.agent_id == Agent.id)
    return list(
        session.exec(
            select(Agent.id)
            .where(col(Agent.active).is_(True), col(Agent.deleted).is_(False), ~answered)
            .order_by(col(Agent.id))
        ).all()
    )


def _accounts(session: Session) -> dict[int, tuple[int | None, str | None]]:
    """Agent id → (their linked account, their address: the agent record's, else the account's)."""
    users: dict[int, tuple[int, str | None]] = {}
    for agent_id, user_id, email in session.exec(
        select(User.agent_id, User.id, User.email)
        .where(col(User.agent_id).is_not(None), col(User.disabled).is_(False))
        .order_by(col(User.id))
    ).all():
        users.setdefault(agent_id, (user_id, email))
    accounts: dict[int, tuple[int | None, str | None]] = {}
    for agent_id, email in session.exec(select(Agent.id, Agent.email)).all():
        user_id, user_email = users.get(agent_id, (None, None))
        accounts[agent_id] = (user_id, email or user_email)
    return accounts


def _open_windows(session: Session, now: datetime) -> list[tuple[PulseSurvey, SurveyDefinition]]:
    """Open windows the worker opened from an active definition (imported or demo windows get none)."""
    rows = session.exec(
        select(PulseSurvey, SurveyDefinition)
        .join(SurveyDefinition, col(PulseSurvey.definition_id) == col(SurveyDefinition.id))
        .where(
            col(SurveyDefinition.active).is_(True),
            col(PulseSurvey.opens_at) <= now,
            col(PulseSurvey.closes_at) > now,
        )
        .order_by(col(PulseSurvey.opens_at))
    ).all()
    return [(window, definition) for window, definition in rows]


def send_reminders(engine: Engine, now: datetime, *, settings: Settings | None = None) -> int:
    """Remind non-responders of open windows; returns the notifications this call created.

    First retries the deliveries that failed on the previous run (once; a window that has closed
    meanwhile is not retried), then creates the due reminders and delivers the new ones. A send
    failure is recorded on its notification (``send_error``, without secrets) and never raises.
    """
    settings = settings or get_settings()
    zone = ZoneInfo(settings.timezone)
    mail, channel = email_configured(settings), webhook_configured(settings)
    with Session(engine, expire_on_commit=False) as session:
        windows = _open_windows(session, now)
        accounts = _accounts(session) if windows else {}
        open_keys = {window.key for window, _ in windows}
        retries = _retries(session, now, settings, open_keys, accounts) if mail or channel else []
        rows: list[dict] = []
        outgoing: dict[str, Outgoing] = {}  # by dedupe key, until the insert says which are new
        for window, definition in windows:
            slot = reminder_slot(window, now, zone, settings.reminder_hour)
            if slot is None:
                continue
            recipients = _non_responders(session, window.id)
            if not recipients:
                continue
            sent = _existing_keys(session, window.key)  # skip the inserts that would only conflict
            until = _day_label(window.closes_at, zone)
            text = reminder_text(definition.title, slot, until)
            for agent_id in recipients:
                user_id, address = accounts.get(agent_id, (None, None))
                key = reminder_key(window.key, agent_id, slot)
                if key in sent:
                    continue
                rows.append(_row(key, REMINDER_KIND, text, now, agent_id, user_id))
                if mail and address:
                    email = Email(address, EMAIL_SUBJECTS[slot], _email_body(text, settings))
                    outgoing[key] = Outgoing(0, text, email=email)
            if channel and (key := reminder_key(window.key, "channel", slot)) not in sent:
                message = channel_text(definition.title, slot, until, page_link(settings, CHECKIN_PAGE))
                rows.append(_row(key, CHANNEL_KIND, message, now, None, None))
                outgoing[key] = Outgoing(0, message)
    if retries:
        deliver(engine, claim_retries(engine, retries), settings=settings, now=now, final=True)
    created = _insert(engine, rows)
    new = [
        Outgoing(notification_id, o.text, email=o.email)
        for notification_id, key in created
        if (o := outgoing.get(key)) is not None
    ]
    if new:
        deliver(engine, new, settings=settings, now=now, final=False)
    if created:
        log.info("survey reminders: %d created, %d to deliver", len(created), len(new))
    return len(created)


def _existing_keys(session: Session, survey_key: str) -> set[str]:
    prefix = reminder_prefix(survey_key)
    return set(
        session.exec(
            select(Notification.dedupe_key).where(
                col(Notification.dedupe_key).startswith(prefix, autoescape=True)
            )
        ).all()
    )


def _row(key: str, kind: str, text: str, now: datetime, agent_id: int | None, user_id: int | None) -> dict:
    return {
        "dedupe_key": key,
        "kind": kind,
        "text": text,
        "created_at": now,
        "agent_id": agent_id,
        "user_id": user_id,
    }


def _insert(engine: Engine, rows: list[dict]) -> list[tuple[int, str]]:
    """Insert reminders, skipping dedupe keys that exist; returns (id, key) of the ones added now."""
    if not rows:
        return []
    with engine.begin() as conn:
        return insert_missing(conn, Notification.__table__, "dedupe_key", rows)


def _retries(
    session: Session,
    now: datetime,
    settings: Settings,
    open_keys: set[str],
    accounts: dict[int, tuple[int | None, str | None]],
) -> list[Outgoing]:
    """Deliveries that failed once, for windows still open: rebuilt from the stored notification.

    Only the last day's failures are looked at: "the next run" is minutes later, and a failure
    left over from a worker that was down for days is not worth sending late.
    """
    failed = session.exec(
        select(Notification).where(
            col(Notification.kind).in_((REMINDER_KIND, CHANNEL_KIND)),
            col(Notification.created_at) >= now - timedelta(days=1),
            col(Notification.sent_at).is_(None),
            retryable(),
        )
    ).all()
    out = []
    for notification in failed:
        parsed = parse_reminder_key(notification.dedupe_key)
        if parsed is None or parsed[0] not in open_keys:
            continue
        if notification.kind == CHANNEL_KIND:
            out.append(Outgoing(notification.id, notification.text))
            continue
        address = accounts.get(notification.agent_id, (None, None))[1] if notification.agent_id else None
        if address:
            email = Email(address, EMAIL_SUBJECTS[parsed[2]], _email_body(notification.text, settings))
            out.append(Outgoing(notification.id, notification.text, email=email))
    return out


def run_survey_windows(engine: Engine, now: datetime | None = None) -> int:
    """Worker job ``survey-windows``: make sure the shipped surveys exist, open windows, remind.

    Seeding here too (it only adds missing keys) makes ``make run``/``ax worker`` ship the default
    surveys without a separate ``ax init``.
    """
    now = now or utcnow()
    with session_scope(engine) as session:
        seed_default_definitions(session)
    return open_and_close_windows(engine, now) + send_reminders(engine, now)
