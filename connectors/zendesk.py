"""Zendesk Support + Talk connector (reference: helpdesk-apis.md section 1).

Settings: ``AX_ZENDESK_SUBDOMAIN``, ``AX_ZENDESK_EMAIL``, ``AX_ZENDESK_API_TOKEN`` and optionally
``AX_ZENDESK_BASE_URL`` (default ``https://{subdomain}.zendesk.com``). Auth is HTTP Basic with
username ``{email}/token`` and the API token as password.

Streams, in order, with their resume cursor (stored after every page):

* ``teams``: ``GET /api/v2/groups`` (offset ``next_page``). Full refresh each sync (Zendesk cannot
  filter groups by time); cursor = the next page's URL, None after the last page.
* ``agents``: ``GET /api/v2/incremental/users/cursor.json`` (cursor export); users with role
  agent/admin only. Cursor = ``after_cursor``; kept after ``end_of_stream`` so the next sync only
  reads changes.
* ``memberships``: ``GET /api/v2/group_memberships`` (``page[size]``, ``links.next`` until
  ``meta.has_more`` is false). Full refresh; cursor = ``links.next``, None at the end.
* ``tickets``: ``GET /api/v2/incremental/tickets/cursor.json?include=metric_sets``. Ends ONLY on
  ``end_of_stream: true``: empty pages with ``end_of_stream: false`` are followed. Cursor =
  ``after_cursor``. ``status: "deleted"`` tickets become ``deleted=True`` contacts.
* ``calls``: ``GET /api/v2/channels/voice/stats/incremental/calls?start_time=``. ``next_page`` is
  never null: stop on an empty page, or when the next URL equals the one just fetched twice in a
  row (no progress; the boundary record repeats, upserts make that harmless). Cursor = ``end_time``.
* ``csat``: ``GET /api/v2/satisfaction_ratings?start_time=&page[size]=`` (``links.next``). Cursor
  ``next:<mark>:<url>`` mid-stream, ``since:<mark>`` at the end, where mark = newest ``updated_at``
  seen minus a 300 s overlap. (Whether ``start_time`` filters on created or updated time is not
  verified; if it is created time, a rating changed later is only seen via the ticket's
  ``satisfaction_rating``, which the tickets stream maps to ``csat``.)
* ``talk_live``: ``GET …/stats/agents_activity`` then ``…/stats/current_queue_activity``: one
  :class:`StatusIntervalRecord` per agent per sync and one :class:`QueueSnapshotRecord`.
  Cursor = the unix time of this sample.

Field mapping and what stays unknown (None):

* Tickets: Zendesk has no agent handle time on tickets, so ``handle/talk/hold/wrap_seconds`` stay
  None (the ticket ``on_hold_time`` is time waiting on a third party, not agent work). From the
  sideloaded ticket metrics: ``first_response_at`` = created + ``reply_time_in_minutes.calendar``,
  ``solved_at``, ``wait_seconds`` = first reply time (the customer's wait for an agent),
  ``reopened`` = ``reopens > 0``, ``escalated`` = ``group_stations > 1`` (moved to another group).
  ``csat``: good -> 5, bad -> 1, numeric 1-5 kept. ``sentiment`` stays None (no customer-text
  sentiment in these endpoints).
* Calls: ``talk/hold/wrap_seconds`` = ``talk_time``/``hold_time``/``wrap_up_time``, handle = their
  sum, ``wait_seconds`` = ``wait_time``. Calls are never deleted in the API.
* Agents: ``active`` = active and not suspended; deleted users (``active: false``) are marked
  deleted. A user demoted to end-user is not seen as an agent change (stays as last synced).
  ``scheduled_hours_per_day`` is not in Zendesk (default 8).
* Memberships removed in Zendesk vanish from the list and are not marked deleted (the API has no
  deletion feed for them).
* Status intervals are *sampled*: the ``agent_state``/``call_status`` seen now is assumed to have
  held since the previous sample when that was at most ``max_sample_gap`` ago, otherwise the
  interval is a point at the sample time. Queue ``agents_available`` counts agents whose state is
  online and who are not on a call or in wrap-up.

Malformed single records (missing id, bad timestamp) are logged (ids only, never secrets) and
counted in ``connector.skipped[stream]``; the stream goes on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    MembershipRecord,
    Page,
    QueueSnapshotRecord,
    Record,
    StatusIntervalRecord,
    TeamRecord,
)
from connectors.http import HelpdeskHttp, build_client
from connectors.mapping import Malformed, SkippedRecords, iso_timestamp, optional_iso_timestamp, required_id

log = logging.getLogger("ax.connectors.zendesk")

SOURCE = "zendesk"
AUTH_SETTINGS = "AX_ZENDESK_SUBDOMAIN, AX_ZENDESK_EMAIL and AX_ZENDESK_API_TOKEN (and AX_ZENDESK_BASE_URL)"

GROUPS = "/api/v2/groups"
USERS = "/api/v2/incremental/users/cursor.json"
MEMBERSHIPS = "/api/v2/group_memberships"
TICKETS = "/api/v2/incremental/tickets/cursor.json"
RATINGS = "/api/v2/satisfaction_ratings"
CALLS = "/api/v2/channels/voice/stats/incremental/calls"
AGENTS_ACTIVITY = "/api/v2/channels/voice/stats/agents_activity"
QUEUE_ACTIVITY = "/api/v2/channels/voice/stats/current_queue_activity"

CHANNELS = {
    "email": "email",
    "web": "email",  # web-form tickets are worked like e-mail
    "chat": "chat",
    "voice": "phone",
    "native_messaging": "messaging",
    "whatsapp": "messaging",
    "sms": "messaging",
    "line": "messaging",
    "wechat": "messaging",
    "mobile_sdk": "messaging",
    "twitter": "social",
    "facebook": "social",
    "instagram_dm": "social",
}
CSAT_WORDS = {"good": 5, "bad": 1}
CSAT_OVERLAP_S = 300


@dataclass(frozen=True)
class ZendeskConfig:
    subdomain: str
    email: str
    api_token: str
    base_url: str = ""  # default https://{subdomain}.zendesk.com
    start_time: int = 0  # unix seconds of the first sync's history start
    page_size: int = 1000
    max_sample_gap: int = 900  # seconds a sampled agent state may be assumed to have held

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", f"https://{self.subdomain}.zendesk.com")

    def __repr__(self) -> str:  # the token never reaches a log line
        return (
            f"ZendeskConfig(subdomain={self.subdomain!r}, email={self.email!r}, base_url={self.base_url!r})"
        )


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def _minutes(metrics: dict[str, Any], key: str) -> int | None:
    value = (metrics.get(key) or {}).get("calendar")
    return None if value is None else int(value) * 60


def _secs(value: Any) -> int | None:
    return None if value is None else int(value)


def _url_key(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Path (without ``.json``) and sorted query, so relative and absolute forms compare equal."""
    parsed = httpx.URL(url)
    return parsed.path.removesuffix(".json"), tuple(sorted(parsed.params.multi_items()))


def _csat(score: Any) -> int | None:
    if isinstance(score, str):
        return CSAT_WORDS.get(score)
    if isinstance(score, int) and 1 <= score <= 5:
        return score
    return None


class ZendeskConnector:
    """Zendesk Support + Talk; see the module docstring for streams, cursors and mapping."""

    name = SOURCE

    def __init__(
        self,
        http: HelpdeskHttp,
        config: ZendeskConfig,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.config = config
        self.now = now
        self.skipped = SkippedRecords(SOURCE)

    def streams(self) -> Sequence[str]:
        return ("teams", "agents", "memberships", "tickets", "calls", "csat", "talk_live")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        producers = {
            "teams": self._teams,
            "agents": self._agents,
            "memberships": self._memberships,
            "tickets": self._tickets,
            "calls": self._calls,
            "csat": self._csat,
            "talk_live": self._talk_live,
        }
        if stream not in producers:
            raise ValueError(f"zendesk has no stream {stream!r}")
        return producers[stream](cursor)

    # --- mapping helper -----------------------------------------------------------------------

    def _map(
        self, stream: str, items: Any, mapper: Callable[[dict[str, Any]], Record | None]
    ) -> list[Record]:
        return self.skipped.map(stream, items, mapper)

    # --- paginators ----------------------------------------------------------------------------

    def _cursor_export(self, path: str, key: str, cursor: str | None, extra: dict[str, Any]):
        """Cursor incremental export: follow ``after_cursor`` until ``end_of_stream`` is true."""
        while True:
            params: dict[str, Any] = {"per_page": self.config.page_size, **extra}
            if cursor:
                params["cursor"] = cursor
            else:
                params["start_time"] = self.config.start_time
            body, _ = self.http.get_json(path, params)
            cursor = body.get("after_cursor") or cursor
            yield body, body.get(key) or [], cursor
            if body.get("end_of_stream") is True:
                return
            if not body.get("after_cursor"):
                raise RuntimeError(f"zendesk {path}: end_of_stream is false but no after_cursor")

    def _links_next(self, path: str, params: dict[str, Any] | None, url: str | None):
        """List cursor pagination: ``links.next`` while ``meta.has_more``."""
        while True:
            body, _ = self.http.get_json(url or path, None if url else params)
            nxt = (body.get("links") or {}).get("next")
            more = bool((body.get("meta") or {}).get("has_more")) and bool(nxt)
            yield body, (nxt if more else None)
            if not more:
                return
            url = nxt

    def _talk_pages(self, url: str):
        """Talk paging: ``next_page`` is never null. Stop on an empty page, or on no progress twice."""
        stalled = False
        while True:
            body, _ = self.http.get_json(url)
            nxt = body.get("next_page")
            yield body, nxt
            if not any(v for v in body.values() if isinstance(v, list)) or not nxt:
                return
            if _url_key(nxt) == _url_key(url):
                if stalled:
                    return
                stalled = True  # the boundary record, or a replayed page: look once more
                continue
            stalled = False
            url = nxt

    # --- streams -------------------------------------------------------------------------------

    def _teams(self, cursor: str | None) -> Iterator[Page]:
        url: str | None = cursor or GROUPS
        params: dict[str, Any] | None = None if cursor else {"per_page": 100}
        while url:
            body, _ = self.http.get_json(url, params)
            nxt = body.get("next_page")
            yield self._map("teams", body.get("groups"), self._team), nxt
            url, params = nxt, None

    def _team(self, g: dict[str, Any]) -> TeamRecord:
        return TeamRecord(
            required_id(g), str(g.get("name") or f"Group {g['id']}"), deleted=bool(g.get("deleted"))
        )

    def _agents(self, cursor: str | None) -> Iterator[Page]:
        for _, users, after in self._cursor_export(USERS, "users", cursor, {}):
            yield self._map("agents", users, self._agent), after

    def _agent(self, u: dict[str, Any]) -> AgentRecord | None:
        uid = required_id(u)
        if u.get("role") not in ("agent", "admin"):
            return None
        optional_iso_timestamp(u.get("updated_at"))  # validates the timestamp
        active = bool(u.get("active", True))
        return AgentRecord(
            uid,
            str(u.get("name") or f"Agent {uid}"),
            email=u.get("email"),
            timezone=u.get("iana_time_zone") or "UTC",
            active=active and not u.get("suspended", False),
            deleted=not active,
        )

    def _memberships(self, cursor: str | None) -> Iterator[Page]:
        for body, nxt in self._links_next(MEMBERSHIPS, {"page[size]": 100}, cursor):
            yield self._map("memberships", body.get("group_memberships"), self._membership), nxt

    def _membership(self, m: dict[str, Any]) -> MembershipRecord:
        return MembershipRecord(required_id(m, "group_id"), required_id(m, "user_id"))

    def _tickets(self, cursor: str | None) -> Iterator[Page]:
        for body, tickets, after in self._cursor_export(
            TICKETS, "tickets", cursor, {"include": "metric_sets"}
        ):
            metrics = {m.get("ticket_id"): m for m in body.get("metric_sets") or () if isinstance(m, dict)}
            yield self._map("tickets", tickets, lambda t, ms=metrics: self._ticket(t, ms)), after

    def _ticket(self, t: dict[str, Any], metric_sets: dict[Any, dict[str, Any]]) -> ContactRecord:
        tid = required_id(t)
        created = iso_timestamp(t.get("created_at"))
        m = t.get("metric_set") or metric_sets.get(t["id"]) or {}
        reply = _minutes(m, "reply_time_in_minutes")
        via = (t.get("via") or {}).get("channel")
        return ContactRecord(
            external_id=f"ticket:{tid}",
            channel=CHANNELS.get(via, "other"),
            created_at=created,
            agent_external_id=_ref(t.get("assignee_id")),
            team_external_id=_ref(t.get("group_id")),
            first_response_at=created + timedelta(seconds=reply) if reply is not None else None,
            solved_at=optional_iso_timestamp(m.get("solved_at")),
            updated_at=optional_iso_timestamp(t.get("updated_at")),
            wait_seconds=reply,
            csat=_csat((t.get("satisfaction_rating") or {}).get("score")),
            escalated=int(m.get("group_stations") or 0) > 1,
            reopened=int(m.get("reopens") or 0) > 0,
            deleted=t.get("status") == "deleted",
        )

    def _calls(self, cursor: str | None) -> Iterator[Page]:
        start = int(cursor) if cursor else self.config.start_time
        for body, _ in self._talk_pages(f"{CALLS}?start_time={start}"):
            end = body.get("end_time")
            if isinstance(end, int) and end > start:
                start = end
            yield self._map("calls", body.get("calls"), self._call), str(start)

    def _call(self, c: dict[str, Any]) -> ContactRecord:
        cid = required_id(c)
        talk, hold, wrap = _secs(c.get("talk_time")), _secs(c.get("hold_time")), _secs(c.get("wrap_up_time"))
        parts = [p for p in (talk, hold, wrap) if p is not None]
        return ContactRecord(
            external_id=f"call:{cid}",
            channel="phone",
            created_at=iso_timestamp(c.get("created_at")),
            agent_external_id=_ref(c.get("agent_id")),
            queue=c.get("ivr_destination_group_name"),
            updated_at=optional_iso_timestamp(c.get("updated_at")),
            handle_seconds=sum(parts) if parts else None,
            talk_seconds=talk,
            hold_seconds=hold,
            wrap_seconds=wrap,
            wait_seconds=_secs(c.get("wait_time")),
        )

    def _csat(self, cursor: str | None) -> Iterator[Page]:
        since, url = self.config.start_time, None
        if cursor and cursor.startswith("next:"):  # next:<high-water mark>:<links.next URL>
            mark, _, url = cursor[5:].partition(":")
            since = int(mark)
        elif cursor and cursor.startswith("since:"):
            since = int(cursor[6:])
        high = since
        params = {"start_time": since, "sort": "created_at", "page[size]": 100}
        for body, nxt in self._links_next(RATINGS, params, url):
            ratings = body.get("satisfaction_ratings") or []
            for r in ratings:
                with contextlib.suppress(Malformed, AttributeError):
                    high = max(high, int(iso_timestamp(r.get("updated_at")).timestamp()) - CSAT_OVERLAP_S)
            yield self._map("csat", ratings, self._rating), (f"next:{high}:{nxt}" if nxt else f"since:{high}")

    def _rating(self, r: dict[str, Any]) -> CsatRecord | None:
        rid = required_id(r)
        score = _csat(r.get("score"))
        if score is None:  # offered / unoffered: no rating given (yet)
            return None
        return CsatRecord(
            rid,
            f"ticket:{required_id(r, 'ticket_id')}",
            score,
            iso_timestamp(r.get("updated_at") or r.get("created_at")),
            agent_external_id=_ref(r.get("assignee_id")),
        )

    def _talk_live(self, cursor: str | None) -> Iterator[Page]:
        now = self.now().astimezone(UTC).replace(microsecond=0)
        stamp = int(now.timestamp())
        prev = int(cursor) if cursor else None
        started = (
            datetime.fromtimestamp(prev, UTC)
            if prev is not None and 0 < stamp - prev <= self.config.max_sample_gap
            else now
        )
        available: set[str] = set()  # agent ids (a replayed page must not count twice)

        def interval(a: dict[str, Any]) -> StatusIntervalRecord:
            agent = required_id(a, "agent_id")
            state, call = a.get("agent_state"), a.get("call_status")
            if call in ("on_call", "wrap_up"):
                status = "busy"
            elif state == "online":
                status = "available"
                available.add(agent)
            elif state in ("away", "offline"):
                status = state
            elif state == "transfers_only":
                status = "online"
            else:
                raise Malformed(f"unknown agent_state {state!r}")
            return StatusIntervalRecord(f"talk:{agent}:{stamp}", agent, status, started, now)

        for body, _ in self._talk_pages(AGENTS_ACTIVITY):
            yield self._map("talk_live", body.get("agents_activity"), interval), str(stamp)
        body, _ = self.http.get_json(QUEUE_ACTIVITY)
        q = body.get("current_queue_activity") or {}
        snapshot = QueueSnapshotRecord(
            external_id=f"talk:{stamp}",
            queue="talk",
            at=now,
            waiting=int(q.get("calls_waiting") or 0) + int(q.get("callbacks_waiting") or 0),
            longest_wait_seconds=int(q.get("longest_wait_time") or 0),
            agents_online=int(q.get("agents_online") or 0),
            agents_available=len(available),
        )
        yield [snapshot], str(stamp)


def build_zendesk(
    config: ZendeskConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    **http_options: Any,
) -> ZendeskConnector:
    """The connector with its client: Basic auth ``{email}/token`` + API token."""
    client = build_client(
        base_url=config.base_url,
        auth=httpx.BasicAuth(f"{config.email}/token", config.api_token),
        transport=transport,
    )
    http = HelpdeskHttp(client, source=SOURCE, auth_settings=AUTH_SETTINGS, sleep=sleep, **http_options)
    return ZendeskConnector(http, config, now=now)
