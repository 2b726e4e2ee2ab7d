"""`ax sync` end to end: the CLI against a fake helpdesk served over real HTTP on localhost."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from ax.access import AccessDenied
from ax.settings import ConfigError
from db.models import Contact
from tests.fakes.server import serve
from tests.fakes.zendesk import FakeZendesk
from tests.test_cli import ax


def _contacts(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Contact).where(Contact.source == "zendesk")
        ).scalar_one()


def test_ax_sync_zendesk_over_http_end_to_end(store, tmp_path):
    fake = FakeZendesk(seed=3)
    with serve(fake) as url:
        fake.base = url  # next-page links point back at the local server
        env = {
            "AX_DATABASE_URL": store.url,
            "AX_ZENDESK_BASE_URL": url,
            "AX_ZENDESK_EMAIL": "admin@acme.test",
            "AX_ZENDESK_API_TOKEN": "tok-secret-123",
        }
        first = ax("sync", env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "zendesk/tickets:" in first.stdout
        synced = _contacts(store.engine)
        assert synced > 0
        again = ax("sync", "zendesk", env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert _contacts(store.engine) == synced
        wrong = ax("sync", env={**env, "AX_ZENDESK_API_TOKEN": "wrong-token"}, cwd=tmp_path)
    assert wrong.returncode == 2
    assert "AX_ZENDESK_API_TOKEN" in wrong.stderr and "wrong-token" not in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_ax_sync_without_configuration_says_what_to_set(tmp_path, store):
    result = ax("sync", env={"AX_DATABASE_URL": store.url}, cwd=tmp_path)
    assert result.returncode == 2
    assert "no helpdesk is configured" in result.stderr
    unknown = ax("sync", "nosuchdesk", env={"AX_DATABASE_URL": store.url}, cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown source" in unknown.stderr
    partial = ax(
        "sync", "zendesk", env={"AX_DATABASE_URL": store.url, "AX_ZENDESK_EMAIL": "a@b.c"}, cwd=tmp_path
    )
    assert partial.returncode == 2 and "AX_ZENDESK_API_TOKEN" in partial.stderr


def test_sync_now_from_the_admin_page_is_run_by_the_worker(store, monkeypatch):
    from ax.accounts import create_user, sign_in
    from ax.settings import reset_settings
    from ax.syncing import request_sync, run_requested_syncs
    from db.models import AuditEvent, JobRun, Role

    fake = FakeZendesk(seed=5)
    with serve(fake) as url:
        fake.base = url
        monkeypatch.setenv("AX_ZENDESK_BASE_URL", url)
        monkeypatch.setenv("AX_ZENDESK_EMAIL", "admin@acme.test")
        monkeypatch.setenv("AX_ZENDESK_API_TOKEN", "tok-secret-123")
        reset_settings()
        with Session(store.engine) as session:
            create_user(session, username="root", password="pw-root", role=Role.admin)
            create_user(session, username="hr", password="pw-hr", role=Role.hr)
            session.commit()
            admin, hr = sign_in(session, "root", "pw-root"), sign_in(session, "hr", "pw-hr")
            first_id = request_sync(session, admin, "zendesk").id
            assert request_sync(session, admin, "zendesk").id == first_id  # one pending request at a time
            with pytest.raises(AccessDenied):
                request_sync(session, hr, "zendesk")
        assert run_requested_syncs(store.engine) == 1
    with Session(store.engine) as session:
        run = session.get(JobRun, first_id)
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "sync_requested")).all()
    assert (run.job, run.status, run.error) == ("sync:zendesk", "ok", None)
    assert run.rows > 0 and _contacts(store.engine) > 0
    assert len(audited) == 1
    assert run_requested_syncs(store.engine) == 0


def test_every_source_builds_from_settings_and_names_what_is_missing(monkeypatch):
    from ax.settings import get_settings, reset_settings
    from ax.sources import SOURCES, build_source, configured_sources

    reset_settings()
    assert configured_sources(get_settings()) == []
    for name in SOURCES:
        with pytest.raises(ConfigError, match=f"source {name} is not configured: set AX_{name.upper()}_"):
            build_source(name, get_settings())
    env = {
        "AX_ZENDESK_SUBDOMAIN": "acme",
        "AX_ZENDESK_EMAIL": "a@acme.test",
        "AX_ZENDESK_API_TOKEN": "t",
        "AX_FRESHDESK_DOMAIN": "acme",
        "AX_FRESHDESK_API_KEY": "k",
        "AX_INTERCOM_ACCESS_TOKEN": "t",
        "AX_FRONT_API_TOKEN": "t",
        "AX_HELPSCOUT_APP_ID": "id",
        "AX_HELPSCOUT_APP_SECRET": "s",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    assert configured_sources(get_settings()) == ["zendesk", "freshdesk", "intercom", "helpscout", "front"]
    for name in configured_sources(get_settings()):
        connector = build_source(name, get_settings())
        assert connector.name == name and list(connector.streams())
