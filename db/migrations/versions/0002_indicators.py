"""indicators: agent-day columns, risk, team day, compute state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:38:30.173697
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing agent-day rows get 0 for the new counters; the next compute fills them in.
    op.create_table(
        "compute_state",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("watermark", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_full_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "agent_risk",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("drivers", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("computed_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.PrimaryKeyConstraint("agent_id", "day"),
    )
    op.create_table(
        "team_day",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("handle_seconds", sa.Integer(), nullable=False),
        sa.Column("on_queue_seconds", sa.Integer(), nullable=True),
        sa.Column("occupancy", sa.Float(), nullable=True),
        sa.Column("logged_in_seconds", sa.Integer(), nullable=True),
        sa.Column("overtime_seconds", sa.Integer(), nullable=True),
        sa.Column("hard_contacts", sa.Integer(), nullable=False),
        sa.Column("back_to_back", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("agents_over_occupancy", sa.Integer(), nullable=False),
        sa.Column("waiting_avg", sa.Float(), nullable=True),
        sa.Column("waiting_max", sa.Integer(), nullable=True),
        sa.Column("longest_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("service_level", sa.Float(), nullable=True),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("peak_hour_contacts", sa.Integer(), nullable=False),
        sa.Column("agents_needed", sa.Integer(), nullable=True),
        sa.Column("agents_staffed", sa.Integer(), nullable=True),
        sa.Column("computed_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("team_id", "day"),
    )
    with op.batch_alter_table("agent_day", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_queue_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("break_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("logged_in_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_seconds", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("overtime_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("occupancy", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longest_stretch_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("back_to_back", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("chat_concurrency", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("hard_since_break_max", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("consecutive_days", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("aht_dev", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("occupancy_dev", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("hard_share_dev", sa.Float(), nullable=True))

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.add_column(sa.Column("synced_at", db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_agent_status_interval_synced_at"), ["synced_at"], unique=False)

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("synced_at", db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_contact_synced_at"), ["synced_at"], unique=False)

    with op.batch_alter_table("csat_rating", schema=None) as batch_op:
        batch_op.add_column(sa.Column("synced_at", db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_csat_contact", ["source", "contact_external_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_csat_rating_synced_at"), ["synced_at"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("csat_rating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_rating_synced_at"))
        batch_op.drop_index("ix_csat_contact")
        batch_op.drop_column("synced_at")

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_synced_at"))
        batch_op.drop_column("synced_at")

    with op.batch_alter_table("agent_status_interval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_status_interval_synced_at"))
        batch_op.drop_column("synced_at")

    with op.batch_alter_table("agent_day", schema=None) as batch_op:
        batch_op.drop_column("hard_share_dev")
        batch_op.drop_column("occupancy_dev")
        batch_op.drop_column("aht_dev")
        batch_op.drop_column("consecutive_days")
        batch_op.drop_column("hard_since_break_max")
        batch_op.drop_column("chat_concurrency")
        batch_op.drop_column("back_to_back")
        batch_op.drop_column("longest_stretch_seconds")
        batch_op.drop_column("occupancy")
        batch_op.drop_column("overtime_seconds")
        batch_op.drop_column("scheduled_seconds")
        batch_op.drop_column("logged_in_seconds")
        batch_op.drop_column("break_seconds")
        batch_op.drop_column("on_queue_seconds")

    op.drop_table("team_day")
    op.drop_table("agent_risk")
    op.drop_table("compute_state")
    # ### end Alembic commands ###
