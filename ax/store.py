"""The configured store: the engine for ``AX_DATABASE_URL`` and sessions on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ax.settings import get_settings
from db.engine import get_engine, session_scope


def engine() -> Engine:
    return get_engine(get_settings().database_url)


@contextmanager
def session() -> Iterator[Session]:
    with session_scope(engine()) as s:
        yield s
