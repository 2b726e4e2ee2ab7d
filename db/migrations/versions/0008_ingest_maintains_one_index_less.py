"""ingest maintains one index less: ix_contact_agent_created goes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 03:44:45.845327

Every contact written updates each index on ``contact``; this one, (agent_id, created_at), cost
ingest about a tenth of its time and served one query: the break planner's hard contacts since
a stretch began, which now reads ``ix_contact_agent_work`` by the work start stamped at ingest
(that index also leads with agent_id, for the foreign key).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_agent_created")


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_agent_created", ["agent_id", "created_at"], unique=False)
