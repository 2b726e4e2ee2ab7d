"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL for every test.

PostgreSQL runs when ``AX_TEST_DATABASE_URL`` points at a server (``make test`` sets it when the
local one answers); each test gets its own throwaway database there. With
``AX_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) a missing server fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from ax.settings import reset_settings
from db.engine import get_engine
from db.migrate import upgrade

BACKENDS = ("sqlite", "postgresql")
DEMO_END = date(2026, 3, 31)
DEMO_NOW = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)


def _pg_admin_url() -> str | None:
    return os.environ.get("AX_TEST_DATABASE_URL")


def _require_postgres() -> None:
    message = (
        "PostgreSQL tests need AX_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
    )
    if os.environ.get("AX_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class Store:
    """A throwaway database of one back end: its URL, engine, and clean-up."""

    def __init__(self, backend: str, tmp_dir: str) -> None:
        self.backend = backend
        self._admin: Engine | None = None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp_dir}/ax-{uuid.uuid4().hex[:8]}.db"
        else:
            admin_url = _pg_admin_url()
            if not admin_url:
                _require_postgres()
            self.name = f"ax_test_{uuid.uuid4().hex[:12]}"
            self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.engine = get_engine(self.url)

    def close(self) -> None:
        self.engine.dispose()
        get_engine.cache_clear()
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test reads the developer's .env or AX_ variables by accident."""
    for key in list(os.environ):
        if key.startswith("AX_") and key not in (
            "AX_TEST_DATABASE_URL",
            "AX_REQUIRE_POSTGRES",
            "AX_REQUIRE_BROWSER",
        ):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A fresh migrated database, also set as AX_DATABASE_URL for code that reads settings."""
    s = Store(request.param, str(tmp_path))
    upgrade(s.engine)
    monkeypatch.setenv("AX_DATABASE_URL", s.url)
    reset_settings()
    yield s
    s.close()


@pytest.fixture
def engine(store: Store) -> Engine:
    return store.engine
