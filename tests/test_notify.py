"""Reminder delivery through a real SMTP server and a real HTTP webhook on localhost, and in-app reads.

The sinks are small servers in threads, so the code under test speaks real SMTP (EHLO, AUTH PLAIN,
MAIL/RCPT/DATA) and real HTTP. What must hold: the channel message names nobody, the SMTP password
and the webhook URL (its path is its token) appear in no log line and no database row, a failing
server is recorded on the notification and retried once on the next run, and the job never fails.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ax.accounts import viewer_for
from ax.jobs import run_recorded
from ax.notifications import mark_read, my_notifications
from ax.notify import GAVE_UP_PREFIX, RETRY_PREFIX
from ax.settings import Settings, get_settings, reset_settings
from ax.survey_windows import (
    CHANNEL_KIND,
    open_and_close_windows,
    run_survey_windows,
    seed_default_definitions,
    send_reminders,
)
from db.models import Agent, Notification, PulseAnswer, PulseSurvey, Role, SurveyDefinition, User

PASSWORD = "Sm7p-pa55word-XYZ"
TOKEN = "Tq9-hook-token-4242"
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)  # an ordinary pulse week (no 1st of a month in it)


# --- a minimal SMTP server ---------------------------------------------------------------------


class SmtpSink(socketserver.ThreadingTCPServer):
    """Speaks enough ESMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, reject_logins: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.reject_logins = reject_logins  # refuse this many logins first, echoing nothing secret
        self.logins: list[tuple[str, str]] = []
        self.messages: list[tuple[str, list[str], Message]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    server: SmtpSink

    def _reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self._reply("220 sink ESMTP")
        sender, recipients = "", []
        while raw := self.rfile.readline():
            line = raw.decode().rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250-sink")
                self._reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(arg.split()[1]).decode().split("\0")
                self.server.logins.append((user, password))
                if len(self.server.logins) <= self.server.reject_logins:
                    self._reply("535 5.7.8 Authentication credentials invalid")
                else:
                    self._reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender, recipients = arg.split(":", 1)[1].split()[0].strip("<>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(arg.split(":", 1)[1].strip().strip("<>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(body[1:] if body.startswith(b"..") else body)
                self.server.messages.append((sender, recipients, message_from_bytes(b"".join(lines))))
                self._reply("250 OK queued")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:  # RSET, NOOP
                self._reply("250 OK")


# --- a minimal webhook receiver ----------------------------------------------------------------


class WebhookSink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, statuses: list[int] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.statuses = list(statuses or [])  # answered in turn, then 200
        self.posts: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T0AX/B0AX/{TOKEN}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Hook(BaseHTTPRequestHandler):
    server: WebhookSink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, json.loads(body)))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no_service")

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.stop()


def _settings(smtp_port: int | None, hook_url: str | None) -> Settings:
    return Settings(
        timezone="UTC",
        reminder_hour=9,
        dashboard_url="https://ax.example.org",
        smtp_host="127.0.0.1" if smtp_port else None,
        smtp_port=smtp_port or 587,
        smtp_user="ax-bot",
        smtp_password=PASSWORD,
        smtp_from="AX <ax@example.org>",
        smtp_starttls=False,
        reminder_webhook_url=hook_url,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _org(engine: Engine) -> dict[str, int]:
    """The shipped surveys (check-in off) and three agents; Bruno will answer, Ana and Carla won't."""
    with Session(engine) as session:
        seed_default_definitions(session)
        monthly = session.exec(
            select(SurveyDefinition).where(SurveyDefinition.key == "monthly_checkin")
        ).one()
        monthly.active = False
        session.add(monthly)
        agents = {
            "Ana Pereira": Agent(source="t", external_id="1", name="Ana Pereira", email="ana@example.org"),
            "Bruno Costa": Agent(source="t", external_id="2", name="Bruno Costa", email="bruno@example.org"),
            "Carla Dias": Agent(source="t", external_id="3", name="Carla Dias"),  # no address: in-app only
        }
        session.add_all(agents.values())
        session.commit()
        ids = {name: agent.id for name, agent in agents.items()}
    open_and_close_windows(engine, MONDAY, settings=_settings(None, None))
    with Session(engine) as session:
        survey = session.exec(select(PulseSurvey)).one()
        session.add(
            PulseAnswer(
                source="ax",
                external_id="b1",
                survey_id=survey.id,
                agent_id=ids["Bruno Costa"],
                item_key="single_burnout",
                value=1,
                answered_at=MONDAY,
            )
        )
        session.commit()
    return ids


def _rows(engine: Engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def _database_text(engine: Engine) -> str:
    """Every text a reminder run may write: notifications, job runs, audit events."""
    with engine.connect() as conn:
        parts = [
            repr(conn.execute(text(f"SELECT * FROM {table}")).all())
            for table in ("notification", "job_run", "audit_event", "survey_definition", "pulse_survey")
        ]
    return "\n".join(parts)


def test_email_and_channel_reminders_name_nobody_else_and_leak_no_secret(engine, smtp, hook, caplog):
    caplog.set_level(logging.DEBUG)
    ids = _org(engine)
    settings = _settings(smtp.port, hook.url)

    assert send_reminders(engine, MONDAY, settings=settings) == 3  # Ana, Carla, one channel message
    assert send_reminders(engine, MONDAY + timedelta(minutes=15), settings=settings) == 0

    assert smtp.logins == [("ax-bot", PASSWORD)]  # it did log in with the secret, once for the batch
    [(sender, recipients, email)] = smtp.messages
    assert (sender, recipients) == ("ax@example.org", ["ana@example.org"])
    assert email["Subject"] == "Your check-in is open"
    body = email.get_payload(decode=True).decode()
    assert "Weekly pulse is open until Sunday 18 January" in body
    assert "Answer it here: https://ax.example.org/checkin" in body  # the check-in page itself
    assert email["Auto-Submitted"] == "auto-generated"

    [(path, payload)] = hook.posts
    assert path.endswith(TOKEN)
    assert set(payload) == {"text"} and "open until Sunday 18 January" in payload["text"]
    assert payload["text"].endswith(" https://ax.example.org/checkin")
    for name in ("Ana", "Pereira", "Bruno", "Carla", "Dias", "@example.org"):
        assert name not in payload["text"] and name not in body

    rows = _rows(engine)
    by_agent = {row.agent_id: row for row in rows}
    assert set(by_agent) == {ids["Ana Pereira"], ids["Carla Dias"], None}  # Bruno answered: nothing
    assert by_agent[ids["Ana Pereira"]].sent_at == MONDAY and by_agent[ids["Ana Pereira"]].send_error is None
    assert by_agent[ids["Carla Dias"]].sent_at is None  # in-app only
    assert by_agent[None].kind == CHANNEL_KIND and by_agent[None].sent_at == MONDAY
    for secret in (PASSWORD, TOKEN, hook.url):
        assert secret not in caplog.text
        assert secret not in _database_text(engine)
    assert "**********" in repr(settings.smtp_password) and TOKEN not in repr(settings)


def test_failed_sends_are_recorded_without_secrets_retried_once_and_never_fail_the_job(engine, caplog):
    caplog.set_level(logging.DEBUG)
    _org(engine)
    smtp = SmtpSink(reject_logins=2)  # refuses the first send and its retry
    hook = WebhookSink(statuses=[500, 500])
    try:
        settings = _settings(smtp.port, hook.url)
        assert send_reminders(engine, MONDAY, settings=settings) == 3
        first = {row.kind: row for row in _rows(engine) if row.send_error}
        assert first["survey_reminder"].send_error == (
            RETRY_PREFIX + "SMTP 535: 5.7.8 Authentication credentials invalid"
        )
        assert first[CHANNEL_KIND].send_error == RETRY_PREFIX + "webhook answered HTTP 500"

        assert send_reminders(engine, MONDAY + timedelta(minutes=15), settings=settings) == 0
        second = {row.kind: row.send_error for row in _rows(engine) if row.send_error}
        assert second == {
            "survey_reminder": GAVE_UP_PREFIX + "SMTP 535: 5.7.8 Authentication credentials invalid",
            CHANNEL_KIND: GAVE_UP_PREFIX + "webhook answered HTTP 500",
        }
        send_reminders(engine, MONDAY + timedelta(minutes=30), settings=settings)
        assert len(smtp.logins) == 2 and len(hook.posts) == 2  # tried twice, then left alone
        assert smtp.messages == []
    finally:
        smtp.stop()
        hook.stop()
    for secret in (PASSWORD, TOKEN):
        assert secret not in caplog.text and secret not in _database_text(engine)


def test_a_retry_that_succeeds_clears_the_error(engine, smtp):
    _org(engine)
    hook = WebhookSink(statuses=[503])
    try:
        settings = _settings(smtp.port, hook.url)
        send_reminders(engine, MONDAY, settings=settings)
        [failed] = [row for row in _rows(engine) if row.send_error]
        assert failed.kind == CHANNEL_KIND and failed.send_error.startswith(RETRY_PREFIX)
        send_reminders(engine, MONDAY + timedelta(minutes=15), settings=settings)
        [channel] = [row for row in _rows(engine) if row.kind == CHANNEL_KIND]
        assert (channel.send_error, channel.sent_at) == (None, MONDAY + timedelta(minutes=15))
        assert len(hook.posts) == 2 and len(smtp.messages) == 1
    finally:
        hook.stop()


def test_unreachable_servers_are_recorded_and_the_worker_job_still_succeeds(engine, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    _org(engine)
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/services/T0AX/B0AX/{TOKEN}"
    for key, value in {
        "AX_SMTP_HOST": "127.0.0.1",
        "AX_SMTP_PORT": str(port),
        "AX_SMTP_USER": "ax-bot",
        "AX_SMTP_PASSWORD": PASSWORD,
        "AX_SMTP_STARTTLS": "false",
        "AX_REMINDER_WEBHOOK_URL": url,
    }.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    assert get_settings().smtp_password.get_secret_value() == PASSWORD

    run = run_recorded(engine, "survey-windows", lambda: run_survey_windows(engine, MONDAY))
    assert (run.status, run.rows, run.error) == ("ok", 3, None)
    errors = sorted(row.send_error for row in _rows(engine) if row.send_error)
    assert len(errors) == 2 and all(e.startswith(RETRY_PREFIX) for e in errors)
    assert any("webhook unreachable" in e for e in errors)
    assert any("ConnectionRefusedError" in e for e in errors)
    for secret in (PASSWORD, TOKEN, url):
        assert secret not in caplog.text and secret not in _database_text(engine)


def test_a_non_http_webhook_address_is_refused_before_any_request(engine):
    _org(engine)
    settings = _settings(None, f"file:///etc/passwd#{TOKEN}")
    send_reminders(engine, MONDAY, settings=settings)
    [channel] = [row for row in _rows(engine) if row.kind == CHANNEL_KIND]
    assert channel.send_error == RETRY_PREFIX + "AX_REMINDER_WEBHOOK_URL must be an https:// address"


# --- in-app reads ------------------------------------------------------------------------------


def test_each_viewer_reads_and_dismisses_only_their_own_reminders(engine):
    ids = _org(engine)
    with Session(engine) as session:
        users = {
            name: User(username=name, display_name=name, role=role.value, agent_id=agent_id)
            for name, role, agent_id in (
                ("ana", Role.agent, ids["Ana Pereira"]),
                ("carla", Role.agent, ids["Carla Dias"]),
                ("bruno", Role.agent, ids["Bruno Costa"]),
                ("lead", Role.lead, None),
                ("hr", Role.hr, None),
            )
        }
        session.add_all(users.values())
        session.commit()
        viewers = {name: viewer_for(session, user) for name, user in users.items()}
    send_reminders(engine, MONDAY, settings=_settings(None, None))
    sunday = MONDAY + timedelta(days=6)
    send_reminders(engine, sunday, settings=_settings(None, None))

    with Session(engine) as session:
        ana = my_notifications(session, viewers["ana"], now=sunday)
        assert [n.text for n in ana] == [
            "Last day: Weekly pulse closes at the end of today (Sunday 18 January). "
            "Your answers are confidential."
        ]
        for other in ("bruno", "lead", "hr"):
            assert my_notifications(session, viewers[other], now=sunday) == []
        assert not mark_read(session, viewers["lead"], ana[0].id)
        assert not mark_read(session, viewers["carla"], ana[0].id)
        assert my_notifications(session, viewers["ana"], now=sunday) == ana
        assert mark_read(session, viewers["ana"], ana[0].id)
        assert not mark_read(session, viewers["ana"], ana[0].id)  # already read
        assert my_notifications(session, viewers["ana"], now=sunday) == []  # the older one is stale too

        carla = my_notifications(session, viewers["carla"], now=sunday)
        assert len(carla) == 1
        survey = session.exec(select(PulseSurvey)).one()
        session.add(
            PulseAnswer(
                source="ax",
                external_id="c1",
                survey_id=survey.id,
                agent_id=ids["Carla Dias"],
                item_key="single_burnout",
                value=2,
                answered_at=sunday,
            )
        )
        session.commit()
        assert my_notifications(session, viewers["carla"], now=sunday) == []  # answered: no nagging
        assert my_notifications(session, viewers["ana"], now=sunday + timedelta(days=2)) == []  # closed
