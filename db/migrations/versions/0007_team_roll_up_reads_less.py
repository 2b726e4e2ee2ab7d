"""team roll-up reads less: covering index of contact arrivals, stored interval bound

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 01:40:33.945093

The team-day roll-up reads live contacts by arrival time (queue load, service level, the peak
hour). Through ``ix_contact_created_at`` each contact found cost a look-up of its table row; an
incremental compute spent most of its team-day time there. The index on ``created_at`` becomes
one that also holds what the roll-up reads, so both back ends answer from the index alone; it
still leads with ``created_at``, so every range or MIN/MAX on it keeps its index.

``compute_state.longest_on_queue`` keeps the roll-up's bound on how long a status interval lasts,
which it measured over every interval on every run; an incremental run now raises it by what was
synced since. Empty here: the next run, finding no bound, measures it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What ix_contact_arrival holds (db.models.CONTACT_ARRIVAL_COLUMNS when this was written; a copy,
# so later model changes do not rewrite history).
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


def upgrade() -> None:
    with op.batch_alter_table("compute_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("longest_on_queue", sa.Integer(), nullable=True))

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_created_at")
        batch_op.create_index("ix_contact_arrival", list(CONTACT_ARRIVAL_COLUMNS), unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_arrival")
        batch_op.create_index("ix_contact_created_at", ["created_at"], unique=False)

    with op.batch_alter_table("compute_state", schema=None) as batch_op:
        batch_op.drop_column("longest_on_queue")
