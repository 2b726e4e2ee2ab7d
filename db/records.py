"""Normalized records: what every connector emits and :mod:`db.ingest` stores.

References between records use the helpdesk's own ids (``agent_external_id``…), never AX row
ids, so a connector needs no knowledge of the store. All timestamps are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True, frozen=True)
class TeamRecord:
    external_id: str
    name: str
    site: str | None = None
    parent_external_id: str | None = None
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class AgentRecord:
    external_id: str
    name: str
    email: str | None = None
    timezone: str = "UTC"
    scheduled_hours_per_day: float = 8.0
    active: bool = True
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class MembershipRecord:
    team_external_id: str
    agent_external_id: str
    deleted: bool = False

    @property
    def external_id(self) -> str:
        return f"{self.team_external_id}:{self.agent_external_id}"


@dataclass(slots=True, frozen=True)
class ContactRecord:
    """A ticket, call, chat or message. Handle time parts are seconds; unknown stays None."""

    external_id: str
    channel: str
    created_at: datetime
    agent_external_id: str | None = None
    team_external_id: str | None = None
    queue: str | None = None
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    updated_at: datetime | None = None
    handle_seconds: int | None = None
    talk_seconds: int | None = None
    hold_seconds: int | None = None
    wrap_seconds: int | None = None
    wait_seconds: int | None = None
    csat: int | None = None
    sentiment: float | None = None
    escalated: bool = False
    reopened: bool = False
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class WorkSegmentRecord:
    external_id: str
    agent_external_id: str
    started_at: datetime
    ended_at: datetime
    contact_external_id: str | None = None
    kind: str = "handling"
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class StatusIntervalRecord:
    external_id: str
    agent_external_id: str
    status: str
    started_at: datetime
    ended_at: datetime
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class QueueSnapshotRecord:
    external_id: str
    queue: str
    at: datetime
    waiting: int
    longest_wait_seconds: int
    agents_online: int
    agents_available: int
    team_external_id: str | None = None
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class CsatRecord:
    external_id: str
    contact_external_id: str
    score: int
    rated_at: datetime
    agent_external_id: str | None = None
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class SurveyRecord:
    """A survey window; answers refer to it by ``key``."""

    key: str
    title: str
    instrument: str
    opens_at: datetime
    closes_at: datetime


@dataclass(slots=True, frozen=True)
class PulseAnswerRecord:
    """A survey answer given outside the app (CSV import, demo data)."""

    external_id: str
    survey_key: str
    agent_external_id: str
    item_key: str
    answered_at: datetime
    value: float | None = None
    text: str | None = None
    deleted: bool = False


@dataclass(slots=True, frozen=True)
class DeletionRecord:
    """ "This id is gone at the source": marks the stored row deleted without touching its data.

    For APIs that report deletions (or whose full listings stop showing an id) with the id alone;
    ``kind`` is a table name: contact, agent, team, team_membership, work_segment, …
    """

    kind: str
    external_id: str


Record = (
    TeamRecord
    | AgentRecord
    | MembershipRecord
    | ContactRecord
    | WorkSegmentRecord
    | StatusIntervalRecord
    | QueueSnapshotRecord
    | CsatRecord
    | SurveyRecord
    | PulseAnswerRecord
    | DeletionRecord
)
