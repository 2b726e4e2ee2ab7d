"""Delivery of notifications outside the app: e-mail over SMTP and one chat-channel webhook.

Secrets (the SMTP password, the webhook URL, whose path is its token) come from the environment
as ``SecretStr`` and never reach the database or a log: a failure is recorded as a short reason
with every secret scrubbed out. The webhook goes through ``urllib`` rather than httpx on purpose:
httpx logs every request URL at INFO level, which would put the webhook's token in the worker log.

A notification's delivery state lives in its row: ``sent_at`` once sent; ``send_error`` starting
with :data:`RETRY_PREFIX` after a first failure (the next run retries it once), with
:data:`GAVE_UP_PREFIX` after the second. A retry is claimed with a conditional UPDATE first, so
two processes never send the same retry. Nothing here raises on a failed send.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from ax.settings import Settings
from db.models import Notification

log = logging.getLogger("ax.notify")

TIMEOUT_SECONDS = 10
RETRY_PREFIX = "failed, retried on the next run: "
GAVE_UP_PREFIX = "failed twice, not retried: "
CLAIMED = "retrying"
ERROR_LIMIT = 500  # notification.send_error


# The dashboard page reminders link to (its url path in dashboard.py, which takes it from here).
CHECKIN_PAGE = "checkin"


def page_link(settings: Settings, url_path: str) -> str | None:
    """The address of one dashboard page for a message, None without ``AX_DASHBOARD_URL``.

    Opened signed out, the page asks for sign-in first and then opens itself (dashboard.py).
    """
    if not settings.dashboard_url:
        return None
    return f"{settings.dashboard_url.rstrip('/')}/{url_path}"


class DeliveryError(Exception):
    """A send that did not go through; the message is already free of secrets."""


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class Outgoing:
    """One notification to deliver: by e-mail when ``email`` is given, else ``text`` to the webhook."""

    notification_id: int
    text: str
    email: Email | None = None


def _sender(settings: Settings) -> str | None:
    return settings.smtp_from or settings.smtp_user


def email_configured(settings: Settings) -> bool:
    if settings.smtp_host and not _sender(settings):
        log.warning("AX_SMTP_HOST is set but neither AX_SMTP_FROM nor AX_SMTP_USER: no e-mail is sent")
    return bool(settings.smtp_host and _sender(settings))


def webhook_configured(settings: Settings) -> bool:
    return settings.reminder_webhook_url is not None and bool(
        settings.reminder_webhook_url.get_secret_value()
    )


def _secrets(settings: Settings) -> list[str]:
    found = []
    if settings.smtp_password and settings.smtp_password.get_secret_value():
        found.append(settings.smtp_password.get_secret_value())
    if webhook_configured(settings):
        url = settings.reminder_webhook_url.get_secret_value()
        parts = urlsplit(url)
        found += [url, parts.path if len(parts.path) > 1 else "", parts.query]
    return sorted(filter(None, found), key=len, reverse=True)  # longest first: the URL before its path


def safe_error(exc: BaseException, settings: Settings) -> str:
    """A short reason for ``send_error`` and the log: status codes, not payloads; secrets scrubbed."""
    if isinstance(exc, DeliveryError):
        reason = str(exc)
    elif isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        reason = f"SMTP {exc.smtp_code}: {detail}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "SMTP server refused the recipient"
    elif isinstance(exc, urllib.error.HTTPError):
        reason = f"webhook answered HTTP {exc.code}"
    elif isinstance(exc, urllib.error.URLError):
        reason = f"webhook unreachable: {exc.reason}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    for secret in _secrets(settings):
        reason = reason.replace(secret, "***")
    return " ".join(reason.split())[:300]


# --- e-mail ------------------------------------------------------------------------------------


def _connect(settings: Settings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _message(settings: Settings, email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _sender(settings)
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(
        domain=parseaddr(_sender(settings) or "")[1].rpartition("@")[2] or None
    )
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to AX
    message.set_content(email.body)
    return message


def send_emails(settings: Settings, emails: Sequence[Email]) -> list[str | None]:
    """Send ``emails`` over one SMTP connection; per e-mail None (sent) or why not.

    A server that cannot be reached or refuses the login fails the rest of the batch at once
    instead of timing out once per agent.
    """
    results: list[str | None] = []
    smtp: smtplib.SMTP | None = None
    broken: str | None = None
    try:
        for email in emails:
            if broken is None and smtp is None:
                try:
                    smtp = _connect(settings)
                except Exception as exc:
                    broken = safe_error(exc, settings)
            if broken is not None or smtp is None:
                results.append(broken)
                continue
            try:
                smtp.send_message(_message(settings, email))
                results.append(None)
            except Exception as exc:
                results.append(safe_error(exc, settings))
                if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                    with suppress(Exception):
                        smtp.close()
                    smtp = None  # reconnect for the next one
    finally:
        if smtp is not None:
            with suppress(Exception):
                smtp.quit()
    return results


# --- webhook -----------------------------------------------------------------------------------


def post_webhook(settings: Settings, text: str) -> None:
    """Post ``{"text": …}``, the message format of Slack and Microsoft Teams incoming webhooks."""
    if not webhook_configured(settings):
        raise DeliveryError("AX_REMINDER_WEBHOOK_URL is not set")
    url = settings.reminder_webhook_url.get_secret_value()
    if urlsplit(url).scheme not in ("https", "http"):
        raise DeliveryError("AX_REMINDER_WEBHOOK_URL must be an https:// address")
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "AX reminders"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read(1024)


# --- delivery state ----------------------------------------------------------------------------


def retryable() -> ColumnElement[bool]:
    """Rows whose first delivery failed and that the next run retries once."""
    return col(Notification.send_error).startswith(RETRY_PREFIX)


def claim_retries(engine: Engine, candidates: Sequence[Outgoing]) -> list[Outgoing]:
    """Take each retry for this process (conditional UPDATE), so no two processes resend one."""
    claimed = []
    with engine.begin() as conn:
        for outgoing in candidates:
            taken = conn.execute(
                update(Notification)
                .where(col(Notification.id) == outgoing.notification_id, retryable())
                .values(send_error=CLAIMED)
            ).rowcount
            if taken:
                claimed.append(outgoing)
    return claimed


def deliver(
    engine: Engine, outgoing: Sequence[Outgoing], *, settings: Settings, now: datetime, final: bool
) -> tuple[int, int]:
    """Send ``outgoing`` and record each outcome on its notification; returns (sent, failed).

    ``final`` marks a failure as given up (the retry) rather than retried on the next run.
    """
    emails = [o for o in outgoing if o.email is not None]
    errors: dict[int, str | None] = dict(
        zip(
            (o.notification_id for o in emails),
            send_emails(settings, [o.email for o in emails if o.email is not None]),
            strict=True,
        )
    )
    for o in outgoing:
        if o.email is None:
            try:
                post_webhook(settings, o.text)
                errors[o.notification_id] = None
            except Exception as exc:
                errors[o.notification_id] = safe_error(exc, settings)
    prefix = GAVE_UP_PREFIX if final else RETRY_PREFIX
    with engine.begin() as conn:
        for notification_id, error in errors.items():
            values = (
                {"sent_at": now, "send_error": None}
                if error is None
                else {"send_error": (prefix + error)[:ERROR_LIMIT]}
            )
            conn.execute(update(Notification).where(col(Notification.id) == notification_id).values(**values))
    failed = sum(error is not None for error in errors.values())
    for notification_id, error in errors.items():
        if error is not None:
            log.warning("notification %s not delivered (%s): %s", notification_id, prefix.strip(": "), error)
    return len(errors) - failed, failed
