"""Browsing the audit log: HR and admins read it page by page; nothing in the app can change it.

There is deliberately no update or delete here (or anywhere in ``ax/``): entries are only ever
added, by :func:`ax.audit.record_event`. Dates a viewer filters by are their own local dates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session

from ax.access import Viewer, require_role
from db.models import AuditEvent, Role

READERS = (Role.hr, Role.admin)
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # in the viewer's timezone
    user: str  # the account, "cli:<os user>" for the command line, or "system"
    action: str
    target: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int  # 1-based
    pages: int


@dataclass(frozen=True)
class AuditFilters:
    users: list[str]
    actions: list[str]


def audit_filters(session: Session, viewer: Viewer) -> AuditFilters:
    """The users and actions that appear in the log, for the page's pickers."""
    require_role(session, viewer, *READERS, action="read the audit log as")
    ae = AuditEvent.__table__.c
    users = session.execute(select(ae.username).where(ae.username.is_not(None)).distinct()).scalars()
    actions = session.execute(select(ae.action).distinct()).scalars()
    return AuditFilters(sorted(users), sorted(actions))


def browse_audit(
    session: Session,
    viewer: Viewer,
    *,
    user: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> AuditPage:
    """Entries newest first, filtered by user, action and local dates (``until`` inclusive)."""
    require_role(session, viewer, *READERS, action="read the audit log as")
    if since and until and since > until:
        raise ValueError(f"the start date {since} is after the end date {until}")
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    zone = ZoneInfo(viewer.timezone)
    ae = AuditEvent.__table__.c
    where: list[ColumnElement[bool]] = []
    if user:
        where.append(ae.username == user)
    if action:
        where.append(ae.action == action)
    if since:
        where.append(ae.at >= datetime.combine(since, time(), zone))
    if until:
        where.append(ae.at < datetime.combine(until + timedelta(days=1), time(), zone))
    total = session.execute(select(func.count()).select_from(AuditEvent.__table__).where(*where)).scalar_one()
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    rows = session.execute(
        select(ae.id, ae.at, ae.username, ae.action, ae.target, ae.details)
        .where(*where)
        .order_by(ae.at.desc(), ae.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return AuditPage([_entry(row, zone) for row in rows], total, page, pages)


def _entry(row: Any, zone: ZoneInfo) -> AuditEntry:
    details: dict[str, Any] = {}
    if row.details:
        try:
            details = json.loads(row.details)
        except ValueError:
            details = {"text": row.details}
    user = row.username or (f"cli:{details['actor']}" if "actor" in details else "system")
    return AuditEntry(row.id, row.at.astimezone(zone), user, row.action, row.target, details)
