"""In-app notifications: each viewer reads and dismisses only their own.

A notification belongs to a viewer when it is addressed to their account or to the agent their
account is linked to. Channel messages (no agent, no account) are never shown in the app, and no
query here can list anyone else's reminders: that a colleague has not answered a survey is not
something a lead, HR or another agent may learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import Session, col, select

from ax.access import Viewer
from ax.survey_windows import REMINDER_KIND, parse_reminder_key, reminder_prefix
from db.models import Notification, PulseAnswer, PulseSurvey
from db.types import utcnow


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    text: str
    created_at: datetime


def _own(viewer: Viewer) -> ColumnElement[bool]:
    mine = [col(Notification.user_id) == viewer.user_id]
    if viewer.agent_id is not None:
        mine.append(col(Notification.agent_id) == viewer.agent_id)
    return or_(*mine)


def my_notifications(
    session: Session, viewer: Viewer, *, now: datetime | None = None, limit: int = 20
) -> list[NotificationView]:
    """The viewer's unread notifications, newest first.

    Survey reminders are shown only while they still apply (the window is open and the viewer has
    not answered it), and only the latest per window: "last day" replaces "it is open".
    """
    now = now or utcnow()
    unread = session.exec(
        select(Notification)
        .where(_own(viewer), col(Notification.read_at).is_(None))
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    ).all()
    reminders = {
        n.id: parsed[0]
        for n in unread
        if n.kind == REMINDER_KIND and (parsed := parse_reminder_key(n.dedupe_key))
    }
    current = _current_surveys(session, viewer, set(reminders.values()), now)
    shown: list[NotificationView] = []
    seen_surveys: set[str] = set()
    for n in unread:
        survey_key = reminders.get(n.id)
        if survey_key is not None:
            if survey_key not in current or survey_key in seen_surveys:
                continue
            seen_surveys.add(survey_key)
        shown.append(NotificationView(n.id, n.kind, n.text, n.created_at))
        if len(shown) == limit:
            break
    return shown


def _current_surveys(session: Session, viewer: Viewer, keys: set[str], now: datetime) -> set[str]:
    """Of ``keys``, the windows still open that the viewer's agent has not answered."""
    if not keys:
        return set()
    windows = session.exec(
        select(PulseSurvey.id, PulseSurvey.key).where(
            col(PulseSurvey.key).in_(keys), col(PulseSurvey.opens_at) <= now, col(PulseSurvey.closes_at) > now
        )
    ).all()
    answered: set[int] = set()
    if viewer.agent_id is not None and windows:
        answered = set(
            session.exec(
                select(PulseAnswer.survey_id)
                .where(
                    col(PulseAnswer.agent_id) == viewer.agent_id,
                    col(PulseAnswer.survey_id).in_([survey_id for survey_id, _ in windows]),
                )
                .distinct()
            ).all()
        )
    return {key for survey_id, key in windows if survey_id not in answered}


def mark_read(session: Session, viewer: Viewer, notification_id: int, *, now: datetime | None = None) -> bool:
    """Dismiss one of the viewer's own notifications; False when it is not theirs or already read.

    Dismissing a survey reminder dismisses that window's earlier reminders too, so "it is open"
    does not come back after "last day" was dismissed. Every query is limited to the viewer's own
    rows, so an id taken from someone else's list changes nothing and reveals nothing.
    """
    note = session.exec(
        select(Notification).where(
            col(Notification.id) == notification_id, _own(viewer), col(Notification.read_at).is_(None)
        )
    ).first()
    if note is None:
        return False
    same = [col(Notification.id) == note.id]
    if note.kind == REMINDER_KIND and (parsed := parse_reminder_key(note.dedupe_key)):
        same.append(
            col(Notification.dedupe_key).startswith(reminder_prefix(parsed[0], parsed[1]), autoescape=True)
        )
    session.exec(
        update(Notification)
        .where(or_(*same), _own(viewer), col(Notification.read_at).is_(None))
        .values(read_at=now or utcnow())
    )
    session.commit()
    return True
