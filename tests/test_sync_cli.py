"""`ax sync` end to end: the CLI against a fake helpdesk served over real HTTP on localhost."""

from __future__ import annotations

from sqlalchemy import func, select

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
