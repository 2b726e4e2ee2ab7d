"""Help Scout (Inbox / Mailbox API 2.0) connector: users, teams, conversations, CSAT and a backlog snapshot.

Settings ``AX_HELPSCOUT_APP_ID``, ``AX_HELPSCOUT_APP_SECRET``, ``AX_HELPSCOUT_BASE_URL`` (default
``https://api.helpscout.net``). Auth is OAuth2 client credentials (``helpdesk-apis.md`` section 4):
``POST /v2/oauth2/token`` gives a Bearer token, fetched again shortly before ``expires_in`` runs out
and, once, when an API call answers 401 (a revoked or rotated token); a second 401 is an auth error.

Every list is HAL: records under ``_embedded.<key>``, next page at ``_links.next.href``, fixed page
sizes (25 conversations, 50 elsewhere). A page whose ``_links.self`` / ``page.number`` is not the
page asked for (a replayed or cached page) is asked for again, since page numbers would skip.

Streams, in order, and their resume cursors:

* ``agents``: ``GET /v2/users``. Full refresh; cursor = the next page's href, None at the end.
* ``teams``: ``GET /v2/teams`` and ``/v2/teams/{id}/members`` (``_embedded.users``). One page = a
  page of teams with all their memberships; cursor = the next teams href, None at the end.
* ``conversations``: ``GET /v2/conversations?status=all&modifiedSince=&sortField=modifiedAt&
  sortOrder=asc&embed=threads&page=``. Cursor ``{"since": iso, "page": n}``, the next request.
  ``modifiedAt`` itself is not in the body, so each page's mark is the newest timestamp it shows
  (created, userUpdatedAt, closed, waiting-since, thread times), all <= the conversation's own
  modifiedAt and so <= that of every unread one. When the mark (minus 1 s, in case
  ``modifiedSince`` is exclusive) passes ``since``, the window re-anchors there at page 1: a
  conversation modified mid-sync moves to the end of the list and would otherwise shift an
  unread one onto a page already read. Otherwise the page number advances. After the last page
  the cursor is the highest mark minus :data:`OVERLAP` (index lag); upserts absorb re-reads.
  ``embed=threads`` costs one request per 25 conversations instead of one per conversation.
* ``csat``: ``GET /v2/reports/user/ratings?user=&start=&end=&rating=0&page=`` per user (sorted
  ids). Cursor ``{"start", "end", "user", "page"}`` while a window runs, then ``{"start": end -
  overlap}``. A 403 (reports need a Plus/Pro plan) skips the stream with a warning.
* ``queue``: ``GET /v2/conversations?status=active``: one :class:`QueueSnapshotRecord` per sync
  (unassigned active conversations, longest ``customerWaitingSince``). No cursor.

Mapping, and what stays unknown:

* Contact: channel = ``type`` (email/chat/phone); agent = ``assignee.id`` (a team when
  ``assignee.type == "team"``); queue = ``mailbox:<mailboxId>``; first response = the first agent
  reply thread (``type == "message"``, ``createdBy.type == "user"``); wait = created -> first reply;
  solved = ``closedAt`` while ``status == "closed"``; updated = ``userUpdatedAt``.
* handle/talk/hold/wrap seconds: None. Help Scout exposes handle time only as a per-user average
  (``reports/user`` ``handleTime``), never per conversation. ``sentiment``, ``escalated``,
  ``reopened``: not exposed (None / False). ``Contact.csat`` stays None: ratings arrive as
  :class:`CsatRecord` (great 5, okay 3, not good 1) keyed ``<conversation>:<user>``.
* Queue: Help Scout has no presence API, so ``agents_online`` / ``agents_available`` are 0 (unknown).
* Deletions: a conversation served with ``state == "deleted"`` becomes a
  :class:`DeletionRecord` (the stored row keeps its data). Conversations purged outright, removed
  users, teams and memberships just vanish from the lists (no tombstones): they stay as last seen.
  Drafts are not contacts and are ignored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from connectors.contract import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    DeletionRecord,
    MembershipRecord,
    Page,
    QueueSnapshotRecord,
    Record,
    TeamRecord,
)
from connectors.http import (
    USER_AGENT,
    HelpdeskAuthError,
    HelpdeskBadPage,
    HelpdeskError,
    HelpdeskHttp,
    build_client,
    safe_url,
)
from connectors.mapping import Malformed, SkippedRecords, iso_timestamp, optional_iso_timestamp, required_id

log = logging.getLogger("ax.connectors.helpscout")

SOURCE = "helpscout"
AUTH_SETTINGS = "AX_HELPSCOUT_APP_ID and AX_HELPSCOUT_APP_SECRET (and AX_HELPSCOUT_BASE_URL)"
TOKEN_PATH = "/v2/oauth2/token"
TOKEN_MARGIN = 60.0  # seconds before expiry at which a token is renewed
DEFAULT_TOKEN_TTL = 7200.0  # when the token response has no expires_in
OVERLAP = timedelta(seconds=300)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_REPLAYS = 3  # a wrong page served again more often than this is an error
CHANNELS = {"email": "email", "chat": "chat", "phone": "phone"}
RATINGS = {"great": 5, "okay": 3, "not good": 1}


@dataclass(frozen=True)
class HelpScoutConfig:
    app_id: str
    app_secret: str
    base_url: str = "https://api.helpscout.net"
    start_at: datetime | None = None  # first sync: conversations modified and ratings given since then

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"HelpScoutConfig(app_id={self.app_id!r}, base_url={self.base_url!r})"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClientCredentials(httpx.Auth):
    """OAuth2 client-credentials Bearer auth: token on first use, before expiry, and once after a 401.

    A rejected token request raises :class:`HelpdeskAuthError`; a 429/5xx from the token endpoint
    is handed back so :class:`HelpdeskHttp` retries the call (which asks for a token again).
    """

    requires_response_body = True

    def __init__(
        self, token_url: str, app_id: str, app_secret: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.token_url, self._app_id, self._app_secret, self._clock = token_url, app_id, app_secret, clock
        self._token: str | None = None
        self._expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = False
        if self._token is None or self._clock() >= self._expires_at:
            if not self._accept((yield self._token_request())):
                return
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code != 401 or fresh:
            return
        log.info("%s: the access token was rejected; fetching a new one once", SOURCE)
        self._token = None
        if self._accept((yield self._token_request())):
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._app_id,
            "client_secret": self._app_secret,
        }
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        return httpx.Request("POST", self.token_url, data=form, headers=headers)

    def _accept(self, response: httpx.Response) -> bool:
        status = response.status_code
        if status in (400, 401, 403):
            raise HelpdeskAuthError(
                f"{SOURCE} rejected the app credentials (HTTP {status}) at {safe_url(response.request.url)}; "
                f"check {AUTH_SETTINGS}",
                status=status,
            )
        if status >= 300:
            return False
        try:
            body = response.json()
            token, ttl = str(body["access_token"]), float(body.get("expires_in") or DEFAULT_TOKEN_TTL)
        except (ValueError, KeyError, TypeError):
            # retried by HelpdeskHttp like any dropped connection
            raise httpx.RemoteProtocolError(
                "token response without an access_token (truncated?)", request=response.request
            ) from None
        self._token, self._expires_at = token, self._clock() + max(0.0, ttl - TOKEN_MARGIN)
        return True


def _next_href(body: dict[str, Any]) -> str | None:
    return (((body.get("_links") or {}).get("next")) or {}).get("href") or None


def _served_as_asked(body: dict[str, Any], asked: httpx.URL) -> bool:
    """False when the body is visibly another page than the one requested."""
    page = body.get("page")
    number = page.get("number") if isinstance(page, dict) else page
    if number is not None and str(number) != asked.params.get("page", "1"):
        return False
    href = (((body.get("_links") or {}).get("self")) or {}).get("href")
    if href:
        served = httpx.URL(href)
        if served.path.rstrip("/") != asked.path.rstrip("/"):
            return False
        for key in ("page", "modifiedSince", "user", "start", "status"):
            if key in served.params and key in asked.params and served.params[key] != asked.params[key]:
                return False
    return True


def _mark(raw: dict[str, Any]) -> datetime | None:
    """The newest time a conversation shows: a lower bound of its (unsent) modifiedAt."""
    values = [raw.get("createdAt"), raw.get("userUpdatedAt"), raw.get("closedAt")]
    values.append((raw.get("customerWaitingSince") or {}).get("time"))
    values += [
        t.get("createdAt") for t in (raw.get("_embedded") or {}).get("threads") or [] if isinstance(t, dict)
    ]
    marks = []
    for value in values:
        try:
            marks.append(iso_timestamp(value))
        except Malformed:
            continue
    return max(marks, default=None)


class HelpScoutConnector:
    """Help Scout Mailbox API 2.0; see the module docstring for streams, cursors and mapping."""

    name = SOURCE

    def __init__(
        self,
        http: HelpdeskHttp,
        *,
        start_at: datetime | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.http = http
        self.start_at = start_at
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.skipped = SkippedRecords(SOURCE)

    def streams(self) -> Sequence[str]:
        return ("agents", "teams", "conversations", "csat", "queue")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        producers = {
            "agents": self._agents,
            "teams": self._teams,
            "conversations": self._conversations,
            "csat": self._csat,
            "queue": self._queue,
        }
        if stream not in producers:
            raise ValueError(f"helpscout has no stream {stream!r}")
        return producers[stream](cursor)

    # --- paginators -----------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One page, asked for again while the answer is visibly another page (a replay)."""
        for _ in range(MAX_REPLAYS):
            body, response = self.http.get_json(url, params)
            if not isinstance(body, dict):
                raise HelpdeskBadPage(f"{SOURCE}: {safe_url(response.request.url)} did not return an object")
            if _served_as_asked(body, response.request.url):
                return body
            log.warning(
                "%s: %s answered with another page; asking again", SOURCE, safe_url(response.request.url)
            )
        raise HelpdeskBadPage(f"{SOURCE}: {safe_url(response.request.url)} keeps answering with another page")

    def _hal(
        self, url: str, key: str, params: dict[str, Any] | None = None
    ) -> Iterator[tuple[list, str | None]]:
        """Pages of ``_embedded[key]`` following ``_links.next.href``; yields (items, next href)."""
        seen: set[str] = set()
        while True:
            body = self._get(url, params)
            nxt = _next_href(body)
            yield list((body.get("_embedded") or {}).get(key) or []), nxt
            if not nxt:
                return
            if nxt in seen:
                raise HelpdeskError(
                    f"{SOURCE}: {safe_url(nxt)} keeps coming back as the next page; pagination loop"
                )
            if httpx.URL(nxt).host not in ("", self.http.client.base_url.host):
                raise HelpdeskError(
                    f"{SOURCE}: next page on another host ({safe_url(nxt)}); not following it"
                )
            seen.add(nxt)
            url, params = nxt, None

    def _map(
        self, stream: str, items: Any, mapper: Callable[[dict[str, Any]], Record | None]
    ) -> list[Record]:
        return self.skipped.map(stream, items, mapper)

    # --- directory ------------------------------------------------------------------------------

    def _agents(self, cursor: str | None) -> Iterator[Page]:
        for users, nxt in self._hal(cursor or "/v2/users", "users"):
            yield self._map("agents", users, self._agent), nxt

    @staticmethod
    def _agent(u: dict[str, Any]) -> AgentRecord | None:
        uid = required_id(u)
        if u.get("type") == "team":
            return None
        name = f"{u.get('firstName') or ''} {u.get('lastName') or ''}".strip()
        zone = u.get("timezone") or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = "UTC"
        return AgentRecord(uid, name or u.get("email") or f"User {uid}", email=u.get("email"), timezone=zone)

    def _teams(self, cursor: str | None) -> Iterator[Page]:
        for items, nxt in self._hal(cursor or "/v2/teams", "teams"):
            teams = self._map(
                "teams", items, lambda t: TeamRecord(required_id(t), str(t.get("name") or f"Team {t['id']}"))
            )
            records: list[Record] = list(teams)
            for team in teams:
                for members, _ in self._hal(f"/v2/teams/{team.external_id}/members", "users"):
                    tid = team.external_id
                    records += self._map(
                        "memberships", members, lambda u, t=tid: MembershipRecord(t, required_id(u))
                    )
            yield records, nxt

    # --- conversations --------------------------------------------------------------------------

    def _conversations(self, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        since = iso_timestamp(state["since"]) if state else (self.start_at or EPOCH)
        page = int(state.get("page", 1))
        high = since
        while True:
            params = {
                "status": "all",
                "modifiedSince": _iso(since),
                "sortField": "modifiedAt",
                "sortOrder": "asc",
                "embed": "threads",
                "page": page,
            }
            body = self._get("/v2/conversations", params)
            items = (body.get("_embedded") or {}).get("conversations") or []
            records = self._map("conversations", items, self._conversation)
            marks = [m for m in (_mark(c) for c in items if isinstance(c, dict)) if m is not None]
            page_high = max(marks, default=since)
            high = max(high, page_high)
            if not _next_href(body):
                yield records, json.dumps({"since": _iso(max(high - OVERLAP, EPOCH)), "page": 1})
                return
            anchor = page_high - timedelta(seconds=1)
            since, page = (anchor, 1) if anchor > since else (since, page + 1)
            yield records, json.dumps({"since": _iso(since), "page": page})

    @staticmethod
    def _conversation(c: dict[str, Any]) -> Record | None:
        cid = required_id(c)
        if c.get("state") == "deleted":
            return DeletionRecord("contact", cid)
        if c.get("state") == "draft":
            return None
        created = iso_timestamp(c.get("createdAt"))
        assignee = c.get("assignee") or {}
        who = None if assignee.get("id") is None else str(assignee["id"])
        is_team = assignee.get("type") == "team"
        replies = sorted(
            iso_timestamp(t.get("createdAt"))
            for t in (c.get("_embedded") or {}).get("threads") or []
            if t.get("type") == "message" and (t.get("createdBy") or {}).get("type") == "user"
        )
        first = replies[0] if replies else None
        mailbox = c.get("mailboxId")
        return ContactRecord(
            external_id=cid,
            channel=CHANNELS.get(c.get("type"), "other"),
            created_at=created,
            agent_external_id=None if is_team else who,
            team_external_id=who if is_team else None,
            queue=f"mailbox:{mailbox}" if mailbox is not None else None,
            first_response_at=first,
            solved_at=optional_iso_timestamp(c.get("closedAt")) if c.get("status") == "closed" else None,
            updated_at=optional_iso_timestamp(c.get("userUpdatedAt")) or created,
            wait_seconds=int((first - created).total_seconds()) if first else None,
        )

    # --- CSAT and backlog -----------------------------------------------------------------------

    def _csat(self, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        start = (
            iso_timestamp(state["start"])
            if "start" in state
            else (self.start_at or self.now() - timedelta(days=30))
        )
        end = iso_timestamp(state["end"]) if "end" in state else self.now().astimezone(UTC)
        resume_user, page = state.get("user"), int(state.get("page", 1))
        users: list[str] = []
        for items, _ in self._hal("/v2/users", "users"):
            users += [str(u["id"]) for u in items if isinstance(u, dict) and u.get("id") is not None]
        users.sort(key=lambda u: (len(u), u))
        if resume_user is not None:
            users = [u for u in users if (len(u), u) >= (len(resume_user), resume_user)]
        window = {"start": _iso(start), "end": _iso(end)}
        for index, user in enumerate(users):
            page = page if user == resume_user else 1
            while True:
                params = {**window, "user": user, "rating": 0, "page": page}
                try:
                    body = self._get("/v2/reports/user/ratings", params)
                except HelpdeskAuthError as exc:
                    if exc.status != 403:
                        raise
                    log.warning(
                        "%s: ratings report refused (403: reports need a Plus/Pro plan); no CSAT", SOURCE
                    )
                    return
                results = body.get("results") or []
                if any(isinstance(r, dict) and str(r.get("ratingUserId")) != user for r in results):
                    raise HelpdeskBadPage(
                        f"{SOURCE}: the ratings report for user {user} holds another user's"
                    )
                records = self._map("csat", results, self._rating)
                more = int(body.get("page") or page) < int(body.get("pages") or 0)
                if more:
                    page += 1
                    yield records, json.dumps({**window, "user": user, "page": page})
                    continue
                if index + 1 < len(users):
                    yield records, json.dumps({**window, "user": users[index + 1], "page": 1})
                else:
                    yield records, json.dumps({"start": _iso(end - OVERLAP)})
                break
        if not users:
            yield [], json.dumps({"start": _iso(end - OVERLAP)})

    @staticmethod
    def _rating(r: dict[str, Any]) -> CsatRecord:
        conv, user = required_id(r), required_id(r, "ratingUserId")
        score = RATINGS.get(str(r.get("rating")).lower())
        if score is None:
            raise Malformed(f"unknown rating {r.get('rating')!r}")
        return CsatRecord(
            f"{conv}:{user}", conv, score, iso_timestamp(r.get("ratingCreatedAt")), agent_external_id=user
        )

    def _queue(self, cursor: str | None) -> Iterator[Page]:
        at = self.now().astimezone(UTC).replace(microsecond=0)
        waiting, longest = 0, 0
        for items, _ in self._hal("/v2/conversations", "conversations", {"status": "active"}):
            for c in items:
                if not isinstance(c, dict) or c.get("assignee") or c.get("state", "published") != "published":
                    continue
                try:
                    since = iso_timestamp((c.get("customerWaitingSince") or {}).get("time"))
                except Malformed:
                    continue
                waiting += 1
                longest = max(longest, int((at - since).total_seconds()))
        snapshot = QueueSnapshotRecord(
            external_id=f"open-unassigned:{_iso(at)}",
            queue="open-unassigned",
            at=at,
            waiting=waiting,
            longest_wait_seconds=longest,
            agents_online=0,  # no presence API: unknown
            agents_available=0,
        )
        yield [snapshot], None


def build_helpscout(
    config: HelpScoutConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
    token_clock: Callable[[], float] = time.monotonic,
    **http_options: Any,
) -> HelpScoutConnector:
    """The connector with its client: OAuth2 client credentials, then Bearer."""
    base = config.base_url.rstrip("/")
    auth = ClientCredentials(base + TOKEN_PATH, config.app_id, config.app_secret, clock=token_clock)
    client = build_client(base_url=base, auth=auth, transport=transport)
    http = HelpdeskHttp(client, source=SOURCE, auth_settings=AUTH_SETTINGS, sleep=sleep, **http_options)
    return HelpScoutConnector(http, start_at=config.start_at, now=now)
