"""Append-only audit trail: exports, individual-level views and refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from db.models import AuditEvent
from db.types import utcnow

if TYPE_CHECKING:
    from ax.access import Viewer

VIEWED_INDIVIDUALS = "viewed_individuals"


def record_event(
    session: Session,
    *,
    viewer: Viewer | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the caller's transaction (it commits with the work it describes)."""
    session.add(
        AuditEvent(
            user_id=viewer.user_id if viewer else None,
            username=viewer.username if viewer else None,
            action=action,
            target=target,
            details=json.dumps(details, default=str, sort_keys=True) if details else None,
        )
    )


# A page reruns on every click; one entry per viewer, view and quarter hour is the record a
# reviewer needs ("who looked at whom, when, with which filters") without burying the log.
VIEW_DEDUPE = timedelta(minutes=15)


def record_view(
    session: Session,
    viewer: Viewer,
    *,
    what: str,
    target: str,
    filters: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that ``viewer`` saw individual-level data of others; False when already recorded.

    The entry joins the caller's transaction like :func:`record_event`. The same viewer, view
    (``what``), target and filters within :data:`VIEW_DEDUPE` count as one view.
    """
    now = now or utcnow()
    details = json.dumps({"what": what, **(filters or {})}, default=str, sort_keys=True)
    seen = session.exec(
        select(AuditEvent.id)
        .where(
            AuditEvent.at > now - VIEW_DEDUPE,
            AuditEvent.username == viewer.username,
            AuditEvent.action == VIEWED_INDIVIDUALS,
            AuditEvent.target == target,
            AuditEvent.details == details,
        )
        .limit(1)
    ).first()
    if seen is not None:
        return False
    session.add(
        AuditEvent(
            at=now,
            user_id=viewer.user_id,
            username=viewer.username,
            action=VIEWED_INDIVIDUALS,
            target=target,
            details=details,
        )
    )
    return True
