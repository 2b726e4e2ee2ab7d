"""An agent's side of pulse surveys: which check-ins are open, sending answers, their own history.

Answers are confidential, not anonymous (DESIGN): stored with the agent so that the agent can see
their own trend, and read back only by that agent. Every function here takes the viewer and asks
:func:`ax.access.check_self`, which returns the viewer's own agent id; no function takes an agent
id, so nobody can answer, or read answers, as someone else. Answer values never appear in log
lines or exception messages: errors say what is wrong ("pick one of the options"), not what was
sent.

Sending is all or nothing: one transaction that first takes the agent's write lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: the agent's row, ``FOR NO KEY UPDATE``), then checks and writes.
The unique ``(survey_id, agent_id, item_key)`` constraint backs this up, so a double submit stores
one set of answers however the requests interleave.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from ax.access import Viewer, check_self
from ax.instruments import (
    DEFAULT_TEXT_LIMIT,
    INSTRUMENTS,
    ITEMS,
    LEVEL_NOTE,
    AnswerError,
    Instrument,
    Item,
    ItemKind,
    custom_item,
    score,
    validate_answer,
    weekly_pulse_items,
)
from db.models import Agent, PulseAnswer, PulseSurvey, SurveyDefinition
from db.types import utcnow

log = logging.getLogger(__name__)

SOURCE = "ax"  # in-app answers; imported ones keep their connector's source
_INSTRUMENT_OF: Mapping[str, Instrument] = {
    item.key: instrument for instrument in INSTRUMENTS.values() for item in instrument.items
}


class SurveyError(ValueError):
    """An answer set that was not stored; the message is fit to show the agent and holds no answer.

    ``reason`` is one of ``unknown_survey``, ``not_open``, ``closed``, ``invalid``,
    ``nothing_to_send`` or ``already_answered``; ``errors`` maps item key → message for
    ``invalid`` (one per problem question, so a form can show each next to its question).
    """

    def __init__(self, message: str, *, reason: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.errors: dict[str, str] = dict(errors or {})


@dataclass(frozen=True)
class OpenSurvey:
    """A survey window the agent can answer now, with its questions in the order asked."""

    id: int
    key: str
    title: str
    opens_at: datetime
    closes_at: datetime
    items: tuple[Item, ...]


@dataclass(frozen=True)
class AnsweredSurvey:
    """A window still open that the agent has already answered (so the page can say so)."""

    id: int
    title: str
    closes_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class CheckIn:
    """What the agent's check-in page needs: open windows, answered ones, and the next opening."""

    open: list[OpenSurvey]
    answered: list[AnsweredSurvey]
    next_opens_at: datetime | None


@dataclass(frozen=True)
class Receipt:
    """What was stored: counts only, so a caller cannot echo the answers by accident."""

    survey_id: int
    title: str
    answered: int
    skipped: int


@dataclass(frozen=True)
class Measure:
    """How to chart one of the agent's scores: its scale and its labelled threshold line."""

    instrument: str
    title: str
    low: float
    high: float
    threshold: float
    threshold_label: str
    direction: str  # "higher is better" / "lower is better", said in words next to the chart


# The thresholds from the instruments' sources (see ax/instruments.py and indicators.md).
MEASURES: tuple[Measure, ...] = (
    Measure("who5", "Wellbeing (WHO-5)", 0, 100, 50, "50 or below: low wellbeing", "higher is better"),
    Measure("cbi_work", "Tiredness from work (CBI)", 0, 100, 50, "50 or above: raised", "lower is better"),
    Measure(
        "cbi_client",
        "Tiredness from customer work (CBI)",
        0,
        100,
        50,
        "50 or above: raised",
        "lower is better",
    ),
    Measure(
        "single_burnout",
        "Burnout (one question, 1–5)",
        1,
        5,
        3,
        "3 or above: burnout symptoms",
        "lower is better",
    ),
    Measure(
        "enps",
        "Would recommend working here (0–10)",
        0,
        10,
        6,
        "6 or below: would not recommend",
        "higher is better",
    ),
)
MEASURE_BY_KEY: Mapping[str, Measure] = {m.instrument: m for m in MEASURES}


@dataclass(frozen=True)
class HistoryPoint:
    """One of the agent's scores from one survey window."""

    survey_id: int
    survey_title: str
    at: datetime  # when the agent answered (their last answer in that window)
    instrument: str
    measure: str
    value: float
    band: str
    concern: bool


# --- questions of a window ---------------------------------------------------------------------


def custom_items(raw: str | None) -> dict[str, Item]:
    """A definition's own questions, from JSON specs ``{key, text, kind, labels?, max_length?}``.

    A broken spec is skipped with a warning rather than breaking every agent's check-in page.
    """
    try:
        specs = json.loads(raw or "[]")
    except ValueError:
        log.warning("survey definition: custom_items is not JSON; ignored")
        return {}
    found: dict[str, Item] = {}
    for position, spec in enumerate(specs if isinstance(specs, list) else []):
        try:
            labels = spec.get("labels")
            item = custom_item(
                spec["key"],
                spec["text"],
                spec["kind"],
                labels=tuple(str(label) for label in labels) if labels else None,
                max_length=int(spec.get("max_length") or DEFAULT_TEXT_LIMIT),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("survey definition: custom question %d ignored (%s)", position, exc)
            continue
        found[item.key] = item
    return found


def _keys(raw: str | None) -> list[str]:
    try:
        keys = json.loads(raw or "[]")
    except ValueError:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _week_index(moment: datetime) -> int:
    """The rotation counter ax/instruments recommends: Monday's ordinal // 7, never restarting."""
    day = moment.date()
    return (day.toordinal() - day.weekday()) // 7


def window_items(window: PulseSurvey, definition: SurveyDefinition | None) -> tuple[Item, ...]:
    """The questions of one window, in order.

    The window's own ``items`` list wins. Windows without one (made by the CSV import or the demo
    generator, or before items were stored) fall back to their definition, then to their
    instrument: the weekly ``pulse`` asks that week's rotation, a named instrument its items.
    Unknown keys are skipped: a question nobody can validate is not asked.
    """
    extra = custom_items(definition.custom_items) if definition is not None else {}
    keys = _keys(window.items)
    if not keys and definition is not None:
        fixed = _keys(definition.items) + [k for k in extra if k not in _keys(definition.items)]
        week = weekly_pulse_items(_week_index(window.opens_at)) if definition.rotation else []
        rotating = [item.key for item in week]
        keys = rotating + [k for k in fixed if k not in rotating]  # as ax/survey_windows plans them
    if not keys:
        if window.instrument == "pulse":
            keys = [item.key for item in weekly_pulse_items(_week_index(window.opens_at))]
        elif window.instrument in INSTRUMENTS and window.instrument != "custom":
            keys = list(INSTRUMENTS[window.instrument].item_keys)
    items: list[Item] = []
    for key in dict.fromkeys(keys):
        item = extra.get(key) or ITEMS.get(key)
        if item is None:
            log.warning("survey %s: unknown question key skipped", window.id)
            continue
        items.append(item)
    return tuple(items)


def recall_of(item: Item) -> str | None:
    """The time frame a question asks about ("Over the last two weeks"), for the form to say once."""
    instrument = _INSTRUMENT_OF.get(item.key)
    return instrument.recall if instrument is not None else None


# --- reading -------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _answered_windows(session: Session, agent_id: int, survey_ids: list[int]) -> dict[int, datetime]:
    """Window id → when the agent last answered it, for windows with any stored answer."""
    if not survey_ids:
        return {}
    rows = session.exec(
        select(PulseAnswer.survey_id, func.max(PulseAnswer.answered_at))
        .where(PulseAnswer.agent_id == agent_id, PulseAnswer.survey_id.in_(survey_ids))
        .group_by(PulseAnswer.survey_id)
    ).all()
    return {survey_id: at for survey_id, at in rows}


def _definitions(session: Session, windows: list[PulseSurvey]) -> dict[int, SurveyDefinition]:
    ids = {w.definition_id for w in windows if w.definition_id is not None}
    if not ids:
        return {}
    return {d.id: d for d in session.exec(select(SurveyDefinition).where(SurveyDefinition.id.in_(ids)))}


def check_in(session: Session, viewer: Viewer, now: datetime | None = None) -> CheckIn:
    """The viewer's check-in status: windows open now (unanswered, answered) and the next opening."""
    agent_id = check_self(session, viewer, "see the check-ins of")
    now = _now(now)
    windows = list(
        session.exec(
            select(PulseSurvey)
            .where(PulseSurvey.opens_at <= now, PulseSurvey.closes_at > now)
            .order_by(PulseSurvey.closes_at, PulseSurvey.id)
        )
    )
    answered = _answered_windows(session, agent_id, [w.id for w in windows])
    definitions = _definitions(session, windows)
    open_now: list[OpenSurvey] = []
    done: list[AnsweredSurvey] = []
    for w in windows:
        if w.id in answered:
            done.append(AnsweredSurvey(w.id, w.title, w.closes_at, answered[w.id]))
            continue
        items = window_items(w, definitions.get(w.definition_id) if w.definition_id else None)
        if items:
            open_now.append(OpenSurvey(w.id, w.key, w.title, w.opens_at, w.closes_at, items))
    next_opens_at = session.exec(
        select(func.min(PulseSurvey.opens_at)).where(PulseSurvey.opens_at > now)
    ).one()
    return CheckIn(open_now, done, next_opens_at)


def open_surveys(session: Session, viewer: Viewer, now: datetime | None = None) -> list[OpenSurvey]:
    """Windows open now that the viewer has not answered yet, soonest closing first."""
    return check_in(session, viewer, now).open


def my_history(session: Session, viewer: Viewer) -> list[HistoryPoint]:
    """The viewer's own scores per window (WHO-5, CBI, single item, eNPS), oldest first.

    Each window is scored on its own (:func:`ax.instruments.score`): a weekly pulse with two WHO-5
    items yields no WHO-5 score, rather than one mixed from different fortnights.
    """
    agent_id = check_self(session, viewer, "see the survey history of")
    rows = session.exec(
        select(
            PulseAnswer.survey_id,
            PulseSurvey.title,
            PulseAnswer.item_key,
            PulseAnswer.value,
            PulseAnswer.answered_at,
        )
        .join(PulseSurvey, PulseSurvey.id == PulseAnswer.survey_id)
        .where(PulseAnswer.agent_id == agent_id, PulseAnswer.deleted.is_(False))
    ).all()
    answers: dict[int, dict[str, float]] = defaultdict(dict)
    titles: dict[int, str] = {}
    last: dict[int, datetime] = {}
    for survey_id, title, item_key, value, answered_at in rows:
        titles[survey_id] = title
        last[survey_id] = max(answered_at, last.get(survey_id, answered_at))
        if value is not None:
            answers[survey_id][item_key] = value
    points: list[HistoryPoint] = []
    for survey_id in sorted(answers, key=lambda s: (last[s], s)):
        for measure in MEASURES:
            try:
                result = score(measure.instrument, answers[survey_id])
            except AnswerError:  # a stored value outside its scale: left out of the chart, not shown
                log.warning("survey %s: a stored answer is out of its scale; score skipped", survey_id)
                continue
            if result is None:
                continue
            points.append(
                HistoryPoint(
                    survey_id,
                    titles[survey_id],
                    last[survey_id],
                    measure.instrument,
                    measure.title,
                    result.value,
                    result.band.label,
                    result.band.concern,
                )
            )
    return points


def measure_summary(measure: Measure, points: list[HistoryPoint], timezone: str = "UTC") -> str | None:
    """One plain sentence about one measure: latest score, its band, the one before (None: no scores)."""
    mine = [p for p in points if p.instrument == measure.instrument]
    if not mine:
        return None
    zone = _zone(timezone)
    latest = mine[-1]
    text = (
        f"{measure.title}: {_fmt(latest.value)} on {latest.at.astimezone(zone):%d %b %Y}, "
        f"{latest.band[0].lower()}{latest.band[1:]} "
        f"({measure.direction}; the line marks {measure.threshold_label})."
    )
    if len(mine) > 1:
        before = mine[-2]
        text += f" Before that: {_fmt(before.value)} on {before.at.astimezone(zone):%d %b}."
    return text


def history_summary(points: list[HistoryPoint], timezone: str = "UTC") -> list[str]:
    """One sentence per measure with scores, then the level note, so colour is never needed."""
    lines = [line for m in MEASURES if (line := measure_summary(m, points, timezone)) is not None]
    return [*lines, LEVEL_NOTE] if lines else []


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- validation messages ---------------------------------------------------------------------------


def answer_problem(item: Item, error: AnswerError, value: object = None) -> str:
    """What is wrong with one answer, in words for the person who gave it, without repeating the answer.

    ``value`` is only measured (its length), never quoted: answers are confidential.
    """
    if error.reason == "too_long":
        length = len(value.strip()) if isinstance(value, str) else None
        limit = item.max_length
        return f"Please keep it to {limit} characters" + (f" (this is {length})." if length else ".")
    if error.reason == "unknown_item":
        return "This question is not part of this survey."
    if item.kind is ItemKind.TEXT:
        if isinstance(value, str):  # text with a character the database cannot hold (NUL)
            return "The text contains a character that cannot be stored; please retype it."
        return "Please type your answer as text."
    if item.labels:
        return f"Please pick one of the options shown (a whole number from {item.min} to {item.max})."
    return f"Please pick a whole number from {item.min} to {item.max}."


def _skipped(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- writing -------------------------------------------------------------------------------------


def _begin_write(session: Session, agent_id: int) -> None:
    """Serialise this agent's submissions before reading what they already answered.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock up front, so the check and the insert run in one
    write transaction and no reader-turned-writer deadlocks ("database is locked"); waiting is left
    to the busy timeout. PostgreSQL: a ``FOR NO KEY UPDATE`` lock on the agent's row queues a second
    submit of the same agent behind the first without blocking foreign-key checks or other agents.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        if not connection.connection.driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        session.exec(select(Agent.id).where(Agent.id == agent_id).with_for_update(key_share=True)).first()


def _when(moment: datetime, timezone: str) -> str:
    return f"{moment.astimezone(_zone(timezone)):%a %d %b %Y, %H:%M}"


def submit_answers(
    session: Session,
    viewer: Viewer,
    survey_id: int,
    answers: Mapping[str, object],
    now: datetime | None = None,
) -> Receipt:
    """Store the viewer's answers to one open window, all or nothing, and commit.

    ``answers`` maps item key → value; ``None`` or empty text skips the question. The agent is the
    viewer (never an argument). Raises :class:`SurveyError` (nothing stored) for an unknown, closed
    or not yet open window, questions not in it, invalid answers, nothing answered, or a window the
    agent has already answered. Pass a session without pending changes: this commits or rolls back.
    """
    agent_id = check_self(session, viewer, "answer a survey as")
    now = _now(now)
    duplicate = False
    try:
        _begin_write(session, agent_id)
        receipt = _store(session, viewer, agent_id, survey_id, answers, now)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        exc.hide_parameters = True  # the statement's parameters are the agent's answers
        if not _duplicate(exc):
            raise
        duplicate = True  # another submit of this agent won the race; the constraint kept one copy
    except StatementError as exc:
        session.rollback()
        exc.hide_parameters = True
        raise
    except BaseException:
        session.rollback()
        raise
    if duplicate:  # raised here, not in the handler, so no database error rides along as its context
        raise SurveyError(_ALREADY, reason="already_answered")
    log.info(
        "check-in stored: survey %s, %d answered, %d skipped", survey_id, receipt.answered, receipt.skipped
    )
    return receipt


def _duplicate(exc: IntegrityError) -> bool:
    """A unique-constraint violation (PostgreSQL SQLSTATE 23505, SQLite "UNIQUE constraint failed")."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


_ALREADY = "You have already answered this check-in. Thank you! Your answers are in your history below."


def _store(
    session: Session,
    viewer: Viewer,
    agent_id: int,
    survey_id: int,
    answers: Mapping[str, object],
    now: datetime,
) -> Receipt:
    window = session.get(PulseSurvey, survey_id)
    if window is None:
        raise SurveyError("This check-in does not exist (any more).", reason="unknown_survey")
    if now < window.opens_at:
        raise SurveyError(
            f"This check-in opens on {_when(window.opens_at, viewer.timezone)}.", reason="not_open"
        )
    if now >= window.closes_at:
        raise SurveyError(
            f"This check-in closed on {_when(window.closes_at, viewer.timezone)}; "
            "answers can no longer be sent.",
            reason="closed",
        )
    already = session.exec(
        select(func.count())
        .select_from(PulseAnswer)
        .where(PulseAnswer.survey_id == survey_id, PulseAnswer.agent_id == agent_id)
    ).one()
    if already:  # checked first: "already answered" is the news, not a typo in the resend
        raise SurveyError(_ALREADY, reason="already_answered")
    definition = session.get(SurveyDefinition, window.definition_id) if window.definition_id else None
    items = {item.key: item for item in window_items(window, definition)}

    errors: dict[str, str] = {}
    cleaned: dict[str, float | str] = {}
    for key, value in answers.items():
        item = items.get(key) if isinstance(key, str) else None
        if item is None:
            errors[str(key)[:60]] = "This question is not part of this check-in."
            continue
        if _skipped(value):
            continue
        try:
            cleaned[key] = validate_answer(item, value)
        except AnswerError as exc:
            errors[key] = answer_problem(item, exc, value)
    if errors:
        count = len(errors)
        raise SurveyError(
            f"{count} answer{'s' if count > 1 else ''} need{'' if count > 1 else 's'} another look; "
            "nothing was saved yet.",
            reason="invalid",
            errors=errors,
        )
    if not cleaned:
        raise SurveyError(
            "Nothing to send: answer at least one question, or come back before the check-in closes.",
            reason="nothing_to_send",
        )
    for key, value in cleaned.items():
        session.add(
            PulseAnswer(
                source=SOURCE,
                external_id=f"ax-{uuid.uuid4().hex}",
                survey_id=survey_id,
                agent_id=agent_id,
                item_key=key,
                value=value if isinstance(value, float) else None,
                text=value if isinstance(value, str) else None,
                answered_at=now,
            )
        )
    session.flush()
    return Receipt(survey_id, window.title, len(cleaned), len(items) - len(cleaned))
