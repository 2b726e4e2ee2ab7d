"""Append-only audit trail: exports, individual-level views and refusals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from db.models import AuditEvent

if TYPE_CHECKING:
    from ax.access import Viewer


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
