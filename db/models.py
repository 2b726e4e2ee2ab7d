"""SQLModel tables: the normalized helpdesk records, plus AX's own state.

Records that come from a helpdesk carry ``(source, external_id)``, unique together: that key
makes every ingest an idempotent upsert. Timestamps are aware UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class Channel(StrEnum):
    email = "email"
    chat = "chat"
    phone = "phone"
    social = "social"
    messaging = "messaging"
    other = "other"


class AgentStatus(StrEnum):
    online = "online"
    available = "available"
    busy = "busy"
    away = "away"
    break_ = "break"
    offline = "offline"


class Role(StrEnum):
    agent = "agent"
    lead = "lead"
    hr = "hr"
    admin = "admin"


def _ts(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class SourceKeyed(SQLModel):
    """Shared fields of every record that comes from a helpdesk (or the demo generator)."""

    source: str = Field(max_length=40)
    external_id: str = Field(max_length=120)
    deleted: bool = Field(default=False)


# --- helpdesk records -------------------------------------------------------------------------


class Team(SourceKeyed, table=True):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_team_source_ext"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    site: str | None = Field(default=None, max_length=120)
    parent_id: int | None = Field(default=None, foreign_key="team.id")


class Agent(SourceKeyed, table=True):
    __tablename__ = "agent"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_agent_source_ext"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    scheduled_hours_per_day: float = Field(default=8.0)
    active: bool = Field(default=True)


class TeamMembership(SourceKeyed, table=True):
    __tablename__ = "team_membership"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_membership_source_ext"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)


# What the agent-day compute reads of a contact, in the order of ix_contact_agent_work.
CONTACT_WORK_COLUMNS = (
    "agent_id",
    "work_day",
    "work_start",
    "work_end",
    "deleted",
    "channel",
    "handle_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "csat",
    "rating_score",
    "sentiment",
    "escalated",
)


# What ix_contact_arrival holds: every column the team-day roll-up reads of a contact.
CONTACT_ARRIVAL_COLUMNS = (
    "created_at",
    "team_id",
    "channel",
    "deleted",
    "agent_id",
    "first_response_at",
    "wait_seconds",
    "handle_seconds",
)


class Contact(SourceKeyed, table=True):
    """A ticket, call, chat or message, with its handling agent and handle time split."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_contact_source_ext"),
        # The indicator compute reads an agent's contacts by local work day, in work span order,
        # from this index alone (it holds every column the compute reads: no table look-ups); so
        # does the break planner (hard contacts since a stretch began), and it serves the
        # foreign key on agent_id.
        Index("ix_contact_agent_work", *CONTACT_WORK_COLUMNS),
        # Which agents and days rows synced since the last compute touch, off the index alone.
        Index("ix_contact_synced_work", "synced_at", "agent_id", "work_day"),
        # Arrivals by time: the team-day roll-up reads live contacts since a day from this index
        # alone (queue load, service level, peak hour), and the earliest and latest contact.
        Index("ix_contact_arrival", *CONTACT_ARRIVAL_COLUMNS),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    queue: str | None = Field(default=None, max_length=120)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    created_at: datetime = Field(sa_column=_ts())
    first_response_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    solved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    handle_seconds: int | None = None
    talk_seconds: int | None = None
    hold_seconds: int | None = None
    wrap_seconds: int | None = None
    wait_seconds: int | None = None
    csat: int | None = Field(default=None, description="1-5, 5 best")
    sentiment: float | None = Field(default=None, description="customer text, -1..1")
    escalated: bool = False
    reopened: bool = False
    synced_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Stamped at ingest so the indicator compute needs no timezone maths or rating look-ups per row:
    # the agent's local day and the epoch seconds the work started (first response, else creation)
    # and ended (start + handle time), and the lowest score of the contact's CSAT ratings (kept up
    # to date as ratings arrive).
    work_day: date | None = None
    work_start: int | None = Field(default=None, sa_type=BigInteger)
    work_end: int | None = Field(default=None, sa_type=BigInteger)
    rating_score: int | None = None


class WorkSegment(SourceKeyed, table=True):
    """A span an agent spent on one contact; overlapping segments mean concurrent chats."""

    __tablename__ = "work_segment"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_segment_source_ext"),
        Index("ix_segment_agent_start", "agent_id", "started_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id")
    contact_external_id: str | None = Field(default=None, max_length=120)
    started_at: datetime = Field(sa_column=_ts())
    ended_at: datetime = Field(sa_column=_ts())
    kind: str = Field(default="handling", max_length=32)


class AgentStatusInterval(SourceKeyed, table=True):
    __tablename__ = "agent_status_interval"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_status_source_ext"),
        Index("ix_status_agent_start", "agent_id", "started_at"),
        Index("ix_status_agent_work", "agent_id", "work_day", "started_at", "ended_at", "status", "deleted"),
        Index("ix_status_synced_work", "synced_at", "agent_id", "work_day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id")
    status: str = Field(max_length=16)
    started_at: datetime = Field(sa_column=_ts())
    ended_at: datetime = Field(sa_column=_ts())
    synced_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The agent's local day of ``started_at``, stamped at ingest (see Contact.work_day).
    work_day: date | None = None


class QueueSnapshot(SourceKeyed, table=True):
    __tablename__ = "queue_snapshot"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_queue_source_ext"),
        Index("ix_queue_team_at", "team_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    queue: str = Field(max_length=120)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    at: datetime = Field(sa_column=_ts())
    waiting: int = 0
    longest_wait_seconds: int = 0
    agents_online: int = 0
    agents_available: int = 0


class CsatRating(SourceKeyed, table=True):
    __tablename__ = "csat_rating"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_csat_source_ext"),
        Index("ix_csat_contact", "source", "contact_external_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_external_id: str = Field(max_length=120)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", index=True)
    score: int = Field(description="1-5, 5 best")
    rated_at: datetime = Field(sa_column=_ts())
    synced_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))


# --- surveys -----------------------------------------------------------------------------------


class SurveyDefinition(SQLModel, table=True):
    """A survey admins and HR configure: its items and cadence; the worker opens its windows."""

    __tablename__ = "survey_definition"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    cadence: str = Field(max_length=16, description="weekly, monthly, quarterly")
    items: str = Field(default="[]", max_length=4000, description="JSON list of item keys")
    rotation: bool = Field(default=False, description="weekly pulse: items rotate (ax.instruments)")
    custom_items: str = Field(default="[]", max_length=8000, description="JSON list of custom item specs")
    window_days: int = Field(default=5, description="days a window stays open")
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_by: int | None = Field(default=None, foreign_key="ax_user.id")


class PulseSurvey(SQLModel, table=True):
    """One survey window (e.g. the weekly pulse of week 47)."""

    __tablename__ = "pulse_survey"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    instrument: str = Field(max_length=40, description="who5, cbi_work, single_burnout, enps, pulse, custom")
    opens_at: datetime = Field(sa_column=_ts())
    closes_at: datetime = Field(sa_column=_ts())
    definition_id: int | None = Field(default=None, foreign_key="survey_definition.id")
    items: str = Field(default="[]", max_length=4000, description="JSON list of the window's item keys")


class PulseAnswer(SourceKeyed, table=True):
    """One agent's answer to one item: confidential, readable only by that agent (see DESIGN)."""

    __tablename__ = "pulse_answer"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_answer_source_ext"),
        UniqueConstraint("survey_id", "agent_id", "item_key", name="uq_answer_once"),
    )
    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="pulse_survey.id", index=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    item_key: str = Field(max_length=60)
    value: float | None = None
    text: str | None = Field(default=None, max_length=2000)
    answered_at: datetime = Field(sa_column=_ts())


# --- computed ----------------------------------------------------------------------------------


class AgentDay(SQLModel, table=True):
    """Per agent per local day workload, computed set-based from contacts and status intervals."""

    __tablename__ = "agent_day"
    # The team roll-up of an incremental compute reads the days from ``since`` on, every agent.
    __table_args__ = (Index("ix_agent_day_day", "day"),)
    agent_id: int = Field(foreign_key="agent.id", primary_key=True)
    day: date = Field(primary_key=True)
    contacts: int = 0
    contacts_email: int = 0
    contacts_chat: int = 0
    contacts_phone: int = 0
    contacts_other: int = 0
    handle_seconds: int = 0
    talk_seconds: int = 0
    hold_seconds: int = 0
    wrap_seconds: int = 0
    hard_contacts: int = 0
    csat_sum: int = 0
    csat_count: int = 0
    # From status intervals; NULL when the day has none (unknown, not zero).
    on_queue_seconds: int | None = None
    break_seconds: int | None = None
    logged_in_seconds: int | None = None
    scheduled_seconds: int = 0
    overtime_seconds: int | None = None
    occupancy: float | None = Field(default=None, description="handling / on-queue time, 0..1")
    longest_stretch_seconds: int | None = None
    # From the contacts' own timeline (start = first response or creation, end = start + handle).
    back_to_back: int = 0
    chat_concurrency: float | None = Field(default=None, description="time-weighted open chats")
    hard_since_break_max: int | None = None
    # Derived over days: run length of days worked, and EWMA deviations from the 28-day baseline.
    consecutive_days: int = 0
    aht_dev: float | None = None
    occupancy_dev: float | None = None
    hard_share_dev: float | None = None
    computed_at: datetime = Field(sa_column=_ts())


class AgentRisk(SQLModel, table=True):
    """Workload-only burnout risk per agent and day: the level a lead may see (no survey input)."""

    __tablename__ = "agent_risk"
    agent_id: int = Field(foreign_key="agent.id", primary_key=True)
    day: date = Field(primary_key=True)
    level: str = Field(max_length=16, description="low, elevated, high")
    points: int = 0
    drivers: str = Field(default="[]", max_length=4000, description="JSON list of driver dicts")
    computed_at: datetime = Field(sa_column=_ts())


class TeamDay(SQLModel, table=True):
    """Per team per local day: roll-ups of its agents' days, queue load and Erlang C staffing."""

    __tablename__ = "team_day"
    team_id: int = Field(foreign_key="team.id", primary_key=True)
    day: date = Field(primary_key=True)
    agents: int = 0
    contacts: int = 0
    handle_seconds: int = 0
    on_queue_seconds: int | None = None
    occupancy: float | None = None
    logged_in_seconds: int | None = None
    overtime_seconds: int | None = None
    hard_contacts: int = 0
    back_to_back: int = 0
    agents_over_occupancy: int = 0
    waiting_avg: float | None = None
    waiting_max: int | None = None
    longest_wait_seconds: int | None = None
    service_level: float | None = Field(default=None, description="share answered within target")
    answered: int = 0
    peak_hour_contacts: int = 0
    agents_needed: int | None = None
    agents_staffed: int | None = None
    computed_at: datetime = Field(sa_column=_ts())


class ComputeState(SQLModel, table=True):
    """How far the incremental compute has read: rows synced after ``watermark`` are new to it."""

    __tablename__ = "compute_state"
    name: str = Field(max_length=40, primary_key=True)
    watermark: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_full_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # An upper bound on how long one on-queue status interval lasts, in whole seconds (the team
    # roll-up's search window for who was on the queue): a full run measures it, an incremental
    # run raises it by what was synced since. It never shrinks but in a full run.
    longest_on_queue: int | None = None


class ComputePending(SQLModel, table=True):
    """An agent-day that lost work the incremental compute cannot see from the rows themselves.

    Synced rows tell the compute where work is *now* (their agent and stamped work day); when a
    contact or status interval moves to another agent or day, or an agent's timezone changes,
    ingest notes where the work *was*, so that day is rebuilt too. The compute reads the notes
    made since its last run and clears older ones.
    """

    __tablename__ = "compute_pending"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id")
    day: date
    noted_at: datetime = Field(sa_column=_ts(index=True))


# --- AX's own state ----------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "ax_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(max_length=16)
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    timezone: str | None = Field(default=None, max_length=64)
    disabled: bool = False
    is_demo: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class LeadTeam(SQLModel, table=True):
    """Which teams a lead user leads."""

    __tablename__ = "lead_team"
    user_id: int = Field(foreign_key="ax_user.id", primary_key=True)
    team_id: int = Field(foreign_key="team.id", primary_key=True)


class Break(SQLModel, table=True):
    __tablename__ = "break_plan"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    status: str = Field(default="planned", max_length=16)
    created_by: int | None = Field(default=None, foreign_key="ax_user.id")
    note: str | None = Field(default=None, max_length=500)


class Notification(SQLModel, table=True):
    """An in-app message (e.g. a survey reminder), optionally also sent by e-mail or webhook.

    ``dedupe_key`` makes "at most once" a database guarantee: a second worker or a rerun that
    tries to send the same reminder hits the unique constraint instead of sending it twice.
    """

    __tablename__ = "notification"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="ax_user.id", index=True)
    kind: str = Field(max_length=40)
    text: str = Field(max_length=1000)
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    read_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    send_error: str | None = Field(default=None, max_length=500)


class SyncState(SQLModel, table=True):
    """Where each (source, stream) stands: its cursor is written in the same transaction as rows."""

    __tablename__ = "sync_state"
    source: str = Field(max_length=40, primary_key=True)
    stream: str = Field(max_length=40, primary_key=True)
    cursor: str | None = Field(default=None, max_length=2000)
    rows_total: int = 0
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=2000)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=80, index=True)
    started_at: datetime = Field(sa_column=_ts())
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: str = Field(default="running", max_length=16)
    rows: int = 0
    error: str | None = Field(default=None, max_length=2000)


class AuditEvent(SQLModel, table=True):
    """Append-only record of exports, individual-level views and refusals."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    user_id: int | None = Field(default=None, foreign_key="ax_user.id")
    username: str | None = Field(default=None, max_length=80)
    action: str = Field(max_length=60)
    target: str | None = Field(default=None, max_length=200)
    details: str | None = Field(default=None, max_length=4000)


class Alert(SQLModel, table=True):
    """A workload condition a lead should act on (sustained overload, rising risk), once per day.

    ``dedupe_key`` (kind, team, agent or "team", day) makes "at most once per condition per day" a
    database guarantee, as for notifications. Built from ``agent_day`` and ``agent_risk`` only: no
    survey answer reaches an alert. ``agent_id`` is None for team-level alerts (the ``team_only``
    privacy profile raises only those).
    """

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_team_day", "team_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    kind: str = Field(max_length=40)
    day: date
    text: str = Field(max_length=1000)
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class TeamAction(SQLModel, table=True):
    """What a lead did about an alert or a survey result; shared ones are the team's "you said, we did"."""

    __tablename__ = "team_action"
    __table_args__ = (Index("ix_team_action_team_at", "team_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    created_by: int = Field(foreign_key="ax_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    about: str = Field(max_length=16, description="alert, survey or other")
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    text: str = Field(max_length=500)
    shared: bool = Field(default=True, description="shown to the team's agents in 'You said, we did'")


# Tables whose rows come from connectors, keyed on (source, external_id), in dependency order.
SOURCE_TABLES: tuple[type[SQLModel], ...] = (
    Team,
    Agent,
    TeamMembership,
    Contact,
    WorkSegment,
    AgentStatusInterval,
    QueueSnapshot,
    CsatRating,
    PulseAnswer,
)
