"""The one HTTP client every connector uses, and the policy that keeps it polite and safe.

Helpdesk APIs fail in the same few ways: 429 with ``Retry-After``, quota headers running low,
5xx and timeouts, rejected credentials, and the odd truncated body. :class:`HelpdeskHttp`
handles them in one place so each connector only states its endpoints and mapping. Time,
sleeping and jitter are injected so tests run instantly and deterministically; secrets never
reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import random as _random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

log = logging.getLogger("ax.connectors.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "ax-dashboard/0.1 (+self-hosted agent-experience dashboard)"

SECRET_PARAMS = ("api_key", "apikey", "key", "token", "access_token", "client_secret", "password", "secret")
_SECRET_QUERY = re.compile(r"(?i)\b(" + "|".join(SECRET_PARAMS) + r")=[^&\s\"'#]*")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@")
_AUTH_VALUE = re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(\w+\s+)?[^\s,\"'}]+")


class HelpdeskError(RuntimeError):
    """A helpdesk request that failed for good; the message names the URL path and the last status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HelpdeskAuthError(HelpdeskError):
    """401/403: retrying cannot help, the message says which setting to fix."""


class HelpdeskBadPage(HelpdeskError):
    """A 2xx whose body is not valid JSON (truncated or an HTML error page)."""


@dataclass(frozen=True)
class QuotaHeaders:
    """One vendor's remaining-quota header family; it applies when ``remaining`` and ``limit`` are sent.

    Without ``limit`` only an exhausted quota (0) pauses; without ``reset`` the reset is assumed
    ``quota_window`` seconds away (all five helpdesks count per minute).

    ``reset`` is read as seconds-until-reset when small, as a unix timestamp when it looks like
    one (> 10**9), since vendors differ (Zendesk ``ratelimit-reset: 41``, Intercom/Front epoch).
    """

    remaining: str
    limit: str | None = None
    reset: str | None = None


# Header lookups are case-insensitive in httpx, so Front's lowercase names match Intercom's.
DEFAULT_QUOTA_HEADERS: tuple[QuotaHeaders, ...] = (
    QuotaHeaders("X-Rate-Limit-Remaining", "X-Rate-Limit"),  # Zendesk account-wide
    QuotaHeaders("ratelimit-remaining", "ratelimit-limit", "ratelimit-reset"),  # Zendesk per endpoint
    QuotaHeaders("X-RateLimit-Remaining", "X-RateLimit-Limit", "X-RateLimit-Reset"),  # Intercom, Front
    QuotaHeaders("X-RateLimit-Remaining", "X-RateLimit-Total"),  # Freshdesk
    QuotaHeaders("X-RateLimit-Remaining-Minute", "X-RateLimit-Limit-Minute", "X-RateLimit-Retry-After"),  # HS
)
DEFAULT_RETRY_AFTER_HEADERS: tuple[str, ...] = ("Retry-After", "X-RateLimit-Retry-After")


def build_client(
    *,
    base_url: str,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> httpx.Client:
    """Build the client in one place; tests pass ``transport=httpx.MockTransport(handler)``."""
    _install_httpx_log_redaction()
    merged = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        headers=merged,
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
    )


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, secret query params, URL credentials and Authorization values."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _SECRET_QUERY.sub(r"\1=***", text)
    text = _USERINFO.sub(r"\1***@", text)
    return _AUTH_VALUE.sub(r"\1\2***", text)


def safe_url(url: httpx.URL | str) -> str:
    """Host and path only: query strings carry cursors at best and tokens at worst."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path


class _RedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO, query string included; scrub it before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_httpx_log_redaction() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactingFilter) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactingFilter())


def _client_secrets(client: httpx.Client) -> set[str]:
    """Secret values this client sends, so they can be scrubbed even where no pattern matches."""
    secrets: set[str] = set()
    values = [client.headers.get("authorization", "")]
    auth = getattr(client, "_auth", None)  # httpx keeps the configured auth here; read-only use
    if isinstance(auth, httpx.BasicAuth):
        values.append(getattr(auth, "_auth_header", ""))
    for value in values:
        if not value:
            continue
        scheme, _, credential = value.partition(" ")
        credential = credential or scheme
        secrets.add(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential).decode("utf-8", "replace")
            except ValueError:
                continue
            secrets.update(decoded.split(":", 1))
    for name, value in parse_qsl(client.base_url.query.decode(), keep_blank_values=False):
        if name.lower() in SECRET_PARAMS:
            secrets.add(value)
    return secrets


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta seconds or an HTTP-date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _number(headers: httpx.Headers, name: str | None) -> float | None:
    if not name or name not in headers:
        return None
    try:
        return float(headers[name].strip())
    except ValueError:
        return None


class HelpdeskHttp:
    """Retry, throttle and error policy around one :class:`httpx.Client`.

    * 429: wait ``Retry-After`` (seconds or HTTP-date), else backoff.
    * Quota headers below ``low_quota_fraction`` of the limit: spread the remaining requests until
      the reset (or over ``quota_window`` when no reset is sent); at 0, wait for the reset.
      The pause happens before the *next* request, so the last page costs nothing.
    * 5xx, timeouts, transport errors: capped exponential backoff with full jitter
      (``random() * min(backoff_cap, backoff_base * 2**attempt)``).
    * All retries of one call stop after ``max_total_seconds`` or ``max_attempts``.
    * 401/403: :class:`HelpdeskAuthError` at once, naming ``auth_settings``.
    * Invalid JSON on a 2xx: retried once (truncation is usually a dropped connection), then
      :class:`HelpdeskBadPage`; the caller decides whether to skip or stop.
    * Other 4xx: :class:`HelpdeskError` with ``status`` so a caller can ignore e.g. a 404.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        source: str,
        auth_settings: str,
        quota_headers: Sequence[QuotaHeaders] = DEFAULT_QUOTA_HEADERS,
        retry_after_headers: Sequence[str] = DEFAULT_RETRY_AFTER_HEADERS,
        max_total_seconds: float = 300.0,
        max_attempts: int = 10,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        low_quota_fraction: float = 0.10,
        quota_window: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.client = client
        self.source = source
        self.auth_settings = auth_settings
        self.quota_headers = tuple(quota_headers)
        self.retry_after_headers = tuple(retry_after_headers)
        self.max_total_seconds = max_total_seconds
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.low_quota_fraction = low_quota_fraction
        self.quota_window = quota_window
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._secrets = _client_secrets(client)
        self._resume_at: float | None = None  # monotonic time before which quota says: wait

    def get_json(
        self, path_or_url: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, httpx.Response]:
        """GET a JSON page; returns the decoded body and the response (for Link and quota headers)."""
        return self.request_json("GET", path_or_url, params=params)

    def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> tuple[Any, httpx.Response]:
        """Any method (Intercom search and Front reports are POSTs) under the same policy."""
        started = self._clock()
        where = self._where(path_or_url)
        attempt = 0
        bad_bodies = 0
        last = "no response"
        last_status: int | None = None
        while True:
            self._wait_for_quota()
            attempt += 1
            try:
                # params={} would make httpx drop the query of a next-page URL: send None instead
                response = self.client.request(method, path_or_url, params=params or None, json=json)
            except httpx.TransportError as exc:  # timeouts, refused connections, dropped streams
                last, last_status = f"{type(exc).__name__}: {self._redact(str(exc))}", None
                delay = self._backoff(attempt)
            else:
                where = safe_url(response.request.url)
                last_status = response.status_code
                last = f"HTTP {response.status_code}"
                self._note_quota(response)
                status = response.status_code
                if status in (401, 403):
                    raise self._auth_error(status, where)
                if status == 429:
                    delay = self._retry_after(response)
                    if delay is None:
                        delay = self._backoff(attempt)
                elif status >= 500:
                    delay = self._backoff(attempt)
                elif status >= 400:
                    raise HelpdeskError(
                        f"{self.source}: {method} {where} failed with HTTP {status}", status=status
                    )
                else:
                    try:
                        return response.json(), response
                    except ValueError as exc:
                        bad_bodies += 1
                        size = len(response.content)
                        last = f"HTTP {status} with invalid JSON ({type(exc).__name__}, {size} bytes)"
                        if bad_bodies > 1:
                            raise HelpdeskBadPage(
                                f"{self.source}: {method} {where} returned a body that is not valid JSON "
                                f"twice ({last}); the page may be truncated",
                                status=status,
                            ) from None
                        delay = self._backoff(attempt)
            elapsed = self._clock() - started
            if attempt >= self.max_attempts or elapsed + delay > self.max_total_seconds:
                raise HelpdeskError(
                    f"{self.source}: gave up on {method} {where} after {attempt} attempts in "
                    f"{elapsed:.0f} s (limit {self.max_total_seconds:.0f} s); last: {last}",
                    status=last_status,
                )
            log.warning("%s: %s %s: %s; retry %d in %.1f s", self.source, method, where, last, attempt, delay)
            self._sleep(delay)

    def _where(self, path_or_url: str) -> str:
        try:
            return safe_url(self.client.base_url.join(path_or_url))
        except (httpx.InvalidURL, ValueError):
            return "<invalid url>"

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): spreads retries of many workers, never above the cap."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self._random() * ceiling

    def _retry_after(self, response: httpx.Response) -> float | None:
        for name in self.retry_after_headers:
            seconds = parse_retry_after(response.headers.get(name), now=self._wall_clock())
            if seconds is not None:
                return seconds
        return None

    def _auth_error(self, status: int, where: str) -> HelpdeskAuthError:
        what = "rejected the credentials" if status == 401 else "refused access (permissions or plan)"
        return HelpdeskAuthError(
            f"{self.source} {what} (HTTP {status}) for {where}; check {self.auth_settings}", status=status
        )

    def _quota_pause(self, headers: httpx.Headers) -> float:
        """Seconds to wait before the next request, from the most constrained quota family present."""
        pause = 0.0
        for family in self.quota_headers:
            remaining = _number(headers, family.remaining)
            limit = _number(headers, family.limit)
            if remaining is None or (family.limit and limit is None):
                continue  # not this vendor's family (Freshdesk and Intercom share a remaining name)
            if remaining > 0 and (limit is None or remaining >= limit * self.low_quota_fraction):
                continue
            reset = _number(headers, family.reset)
            if reset is None:
                until_reset = self.quota_window
            elif reset > 1e9:
                until_reset = max(0.0, reset - self._wall_clock())
            else:
                until_reset = reset
            pause = max(pause, until_reset / (remaining + 1))
        return min(pause, self.max_total_seconds)

    def _note_quota(self, response: httpx.Response) -> None:
        pause = self._quota_pause(response.headers)
        if pause > 0:
            self._resume_at = self._clock() + pause

    def _wait_for_quota(self) -> None:
        if self._resume_at is None:
            return
        wait = self._resume_at - self._clock()
        self._resume_at = None
        if wait > 0:
            log.info("%s: quota running low; pausing %.1f s before the next request", self.source, wait)
            self._sleep(wait)
