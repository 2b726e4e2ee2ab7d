"""Storage: SQLModel tables, engine/session, batched idempotent upserts, Alembic migrations."""
