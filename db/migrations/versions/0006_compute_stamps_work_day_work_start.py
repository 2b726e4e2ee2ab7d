"""compute stamps: work day, work start, rating score; pending agent-days

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:53:37.956249

The indicator compute used to work out, for every contact and status row on every run, the agent's
local day (a timezone conversion; a Python call per row on SQLite), the epoch second the work
started and the contact's lowest CSAT rating (a look-up per contact). Ingest now stamps them once
(``db.ingest``); this migration fills them in for the rows already stored, then indexes the agent's
rows by local work day so full and incremental computes read them in order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What ix_contact_agent_work holds (db.models.CONTACT_WORK_COLUMNS when this was written; a copy,
# so later model changes do not rewrite history).
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

# One pass each; PostgreSQL joins (each row is rewritten once), SQLite looks up per row.
BACKFILL = {
    "postgresql": (
        """
        UPDATE contact SET work_day = x.work_day, work_start = x.work_start,
            work_end = x.work_start + coalesce(x.handle_seconds, 0), rating_score = x.rating_score
        FROM (
            SELECT c.id, c.handle_seconds,
                   (coalesce(c.first_response_at, c.created_at) AT TIME ZONE a.timezone)::date AS work_day,
                   FLOOR(EXTRACT(EPOCH FROM coalesce(c.first_response_at, c.created_at)))::bigint
                       AS work_start,
                   r.score AS rating_score
            FROM contact c
            LEFT JOIN agent a ON a.id = c.agent_id
            LEFT JOIN (
                SELECT source, contact_external_id, min(score) AS score FROM csat_rating
                WHERE NOT deleted GROUP BY source, contact_external_id
            ) r ON r.source = c.source AND r.contact_external_id = c.external_id
        ) x
        WHERE contact.id = x.id
        """,
        """
        UPDATE agent_status_interval SET work_day = (started_at AT TIME ZONE a.timezone)::date
        FROM agent a WHERE a.id = agent_status_interval.agent_id
        """,
    ),
    "sqlite": (
        """
        UPDATE contact SET
            work_day = CASE WHEN agent_id IS NOT NULL THEN ax_local_date(
                coalesce(first_response_at, created_at),
                (SELECT timezone FROM agent WHERE agent.id = contact.agent_id)
            ) END,
            -- whole seconds, cut (not rounded: strftime rounds to milliseconds first) as on PostgreSQL
            work_start = CAST(
                strftime('%s', substr(coalesce(first_response_at, created_at), 1, 19)) AS INTEGER
            ),
            work_end = CAST(
                strftime('%s', substr(coalesce(first_response_at, created_at), 1, 19)) AS INTEGER
            ) + coalesce(handle_seconds, 0),
            rating_score = (
                SELECT min(score) FROM csat_rating r
                WHERE r.source = contact.source AND r.contact_external_id = contact.external_id
                  AND NOT r.deleted
            )
        """,
        """
        UPDATE agent_status_interval SET work_day = ax_local_date(
            started_at, (SELECT timezone FROM agent WHERE agent.id = agent_status_interval.agent_id)
        )
        """,
    ),
}


# Ingest now gives a contact a new synced_at when its lowest rating changes, and the compute no
# longer joins ratings to contacts to find what changed: contacts with ratings synced since the
# last compute, not yet computed, get the rating's synced_at now.
PENDING_RATINGS = {
    "postgresql": """
        UPDATE contact SET synced_at = r.synced_at
        FROM (
            SELECT source, contact_external_id, max(synced_at) AS synced_at FROM csat_rating
            WHERE synced_at > (SELECT watermark FROM compute_state WHERE name = 'indicators')
            GROUP BY source, contact_external_id
        ) r
        WHERE contact.source = r.source AND contact.external_id = r.contact_external_id
          AND (contact.synced_at IS NULL OR contact.synced_at < r.synced_at)
    """,
    "sqlite": """
        UPDATE contact SET synced_at = (
            SELECT max(r.synced_at) FROM csat_rating r
            WHERE r.source = contact.source AND r.contact_external_id = contact.external_id
        )
        WHERE (source, external_id) IN (
            SELECT source, contact_external_id FROM csat_rating
            WHERE synced_at > (SELECT watermark FROM compute_state WHERE name = 'indicators')
        )
    """,
}


def _backfill() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The engine registers ax_local_date on connect; a bare connection may not have it.
        from db.engine import _local_date

        bind.connection.driver_connection.create_function("ax_local_date", 2, _local_date, deterministic=True)
    for statement in BACKFILL[bind.dialect.name]:
        op.execute(sa.text(statement))
    op.execute(sa.text(PENDING_RATINGS[bind.dialect.name]))


def upgrade() -> None:
    op.create_table(
        "compute_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("noted_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("compute_pending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_pending_noted_at"), ["noted_at"], unique=False)

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_day", sa.Date(), nullable=True))

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("work_start", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("work_end", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("rating_score", sa.Integer(), nullable=True))

    _backfill()  # before the indexes: filling indexed columns row by row is slower

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_agent_work",
            ["agent_id", "work_day", "started_at", "ended_at", "status", "deleted"],
            unique=False,
        )

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_agent_work", list(CONTACT_WORK_COLUMNS), unique=False)

    with op.batch_alter_table("agent_day", schema=None) as batch_op:
        batch_op.create_index("ix_agent_day_day", ["day"], unique=False)

    # What the compute's plan reads: which agents and days recently synced rows touch.
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_synced_at")
        batch_op.create_index("ix_contact_synced_work", ["synced_at", "agent_id", "work_day"], unique=False)

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_status_interval_synced_at")
        batch_op.create_index("ix_status_synced_work", ["synced_at", "agent_id", "work_day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.drop_index("ix_status_synced_work")
        batch_op.create_index("ix_agent_status_interval_synced_at", ["synced_at"], unique=False)

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_synced_work")
        batch_op.create_index("ix_contact_synced_at", ["synced_at"], unique=False)

    with op.batch_alter_table("agent_day", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_day_day")

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_agent_work")
        batch_op.drop_column("rating_score")
        batch_op.drop_column("work_end")
        batch_op.drop_column("work_start")
        batch_op.drop_column("work_day")

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.drop_index("ix_status_agent_work")
        batch_op.drop_column("work_day")

    with op.batch_alter_table("compute_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_pending_noted_at"))
    op.drop_table("compute_pending")
