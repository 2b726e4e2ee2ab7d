"""Freshdesk (API v2): groups, agents, tickets with time entries, deleted tickets, CSAT, backlog.

Endpoints (see ``helpdesk-apis.md`` section 2): ``/api/v2/groups``, ``/agents``,
``/tickets?updated_since=…&order_by=updated_at&order_type=asc&include=stats``,
``/tickets?filter=deleted``, ``/tickets/{id}/time_entries``, ``/surveys/satisfaction_ratings``
and ``/search/tickets`` for the unassigned backlog. Bodies are bare JSON arrays; the next page is
announced by the ``Link: <…>; rel="next"`` header; ``per_page`` is at most 100; the ticket list
refuses pages beyond 300.

Cursors (JSON strings, each the state of the *next* request):

* ``groups``, ``agents``: full refresh, ``{"page": n}`` while running, None once complete.
* ``tickets``, ``deleted_tickets``: ``{"since": iso, "page": n}``. Every page re-anchors the
  window on the last ``updated_at`` seen (``updated_since`` is inclusive, upserts absorb the
  re-read boundary), so the page cap is never reached and a ticket updated mid-sync cannot shift
  an unread ticket onto an already-read page number (plain page-number paging would lose it).
  Only a block of >= ``per_page`` tickets sharing one second pages on (``page`` + 1, via Link).
  At the end the window moves to the high-water mark minus ``overlap_seconds`` (index lag).
* ``satisfaction_ratings``: ``{"since": iso, "page": n, "hwm": iso|null}``: pages of one
  ``created_since`` window, then the window moves to the high-water mark minus the overlap.
* ``backlog``: no cursor; one :class:`QueueSnapshotRecord` per sync.

What stays unknown (None): talk/hold/wrap seconds (Freshdesk has no call legs), sentiment (no
customer-text analysis here), ``Contact.csat`` (ratings go to :class:`CsatRecord` keyed by the
ticket id; reading them per ticket would double the request count), ``queue``. Handle time is
the sum of the ticket's *reported* time entries (``time_spent`` "HH:MM"), None when there are
none; ``wait_seconds`` is created → first response. Agent status is only the current
``available``/``available_since`` interval (ended at sync time). Deleted groups, agents, time
entries and memberships vanish from the API without tombstones and stay as last seen; deleted
tickets come from ``filter=deleted`` and are marked ``deleted=True``, spam tickets likewise
when seen.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from connectors.contract import Page
from connectors.http import HelpdeskError, HelpdeskHttp, build_client
from connectors.mapping import SkippedRecords
from db.records import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    MembershipRecord,
    QueueSnapshotRecord,
    Record,
    StatusIntervalRecord,
    TeamRecord,
    WorkSegmentRecord,
)

log = logging.getLogger("ax.connectors.freshdesk")

AUTH_SETTINGS = "AX_FRESHDESK_API_KEY / AX_FRESHDESK_DOMAIN"
PER_PAGE = 100
TICKET_PAGE_CAP = 300
SEARCH_PAGE_CAP = 10  # search returns 30 per page, 10 pages at most
# source code -> AX channel; 2 portal, 4 forum, 9 feedback widget have no better fit than "other"
CHANNELS = {1: "email", 3: "phone", 5: "social", 6: "social", 7: "chat", 8: "messaging", 10: "email"}
# Freshdesk reports Rails time-zone names; the common ones, others fall back to UTC
RAILS_ZONES = {
    "Eastern Time (US & Canada)": "America/New_York",
    "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "London": "Europe/London",
    "Dublin": "Europe/Dublin",
    "Lisbon": "Europe/Lisbon",
    "Paris": "Europe/Paris",
    "Berlin": "Europe/Berlin",
    "Amsterdam": "Europe/Amsterdam",
    "Madrid": "Europe/Madrid",
    "Rome": "Europe/Rome",
    "Warsaw": "Europe/Warsaw",
    "Chennai": "Asia/Kolkata",
    "Kolkata": "Asia/Kolkata",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Singapore": "Asia/Singapore",
    "Tokyo": "Asia/Tokyo",
    "Sydney": "Australia/Sydney",
    "Brasilia": "America/Sao_Paulo",
}
_HHMM = re.compile(r"^(\d+):([0-5]\d)$")


@dataclass(frozen=True)
class FreshdeskConfig:
    domain: str
    api_key: str
    base_url: str | None = None  # default https://{domain}.freshdesk.com
    start_date: str = "2000-01-01T00:00:00Z"  # tickets without updated_since are last 30 days only
    overlap_seconds: int = 300
    per_page: int = PER_PAGE
    time_entries: bool = True  # one extra request per ticket, for handle time

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.domain}.freshdesk.com").rstrip("/") + "/api/v2/"


def build_freshdesk(
    config: FreshdeskConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    **http_options: Any,
) -> FreshdeskConnector:
    """Basic auth with the API key as user name and the literal ``X`` as password."""
    client = build_client(base_url=config.url, auth=(config.api_key, "X"), transport=transport)
    http = HelpdeskHttp(client, source="freshdesk", auth_settings=AUTH_SETTINGS, sleep=sleep, **http_options)
    return FreshdeskConnector(http, config, now=now)


def parse_ts(value: Any) -> datetime | None:
    """ISO-8601 to aware UTC; None for null; ValueError for anything else malformed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm_seconds(value: Any) -> int:
    match = _HHMM.match(value or "") if isinstance(value, str) else None
    if not match:
        raise ValueError(f"time_spent is not HH:MM: {value!r}")
    return int(match[1]) * 3600 + int(match[2]) * 60


def csat_score(value: Any) -> int:
    """Freshdesk -103…103 (7 points: ±103, ±102, ±101, 100) to 1-5; 3-point surveys give 1/3/5."""
    ladder = {-103: 1, -102: 2, -101: 2, 100: 3, 101: 4, 102: 4, 103: 5}
    if value not in ladder:
        raise ValueError(f"unknown rating value {value!r}")
    return ladder[value]


def timezone_name(value: Any) -> str:
    name = RAILS_ZONES.get(value, value) if isinstance(value, str) else "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


def _page_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query).get("page", ["1"])[0])


class FreshdeskConnector:
    """Implements the connector contract for one Freshdesk account."""

    name = "freshdesk"

    def __init__(self, http: HelpdeskHttp, config: FreshdeskConfig, *, now: Callable[[], datetime]) -> None:
        self.http = http
        self.config = config
        self.now = now
        self.skipped = SkippedRecords(self.name)
        self.per_page = min(config.per_page, PER_PAGE)

    def streams(self) -> Sequence[str]:
        return ("groups", "agents", "tickets", "deleted_tickets", "satisfaction_ratings", "backlog")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else None
        if stream == "groups":
            return self._directory("groups", self._group, state)
        if stream == "agents":
            return self._directory("agents", self._agent, state)
        if stream == "tickets":
            return self._tickets(stream, state, {})
        if stream == "deleted_tickets":
            return self._tickets(stream, state, {"filter": "deleted"})
        if stream == "satisfaction_ratings":
            return self._ratings(state)
        if stream == "backlog":
            return self._backlog()
        raise ValueError(f"freshdesk has no stream {stream!r}")

    # --- paginators ------------------------------------------------------------------------

    def _directory(
        self, path: str, mapper: Callable[[dict], list[Record]], state: dict | None
    ) -> Iterator[Page]:
        page = (state or {}).get("page", 1)
        while True:
            body, response = self.http.get_json(path, {"per_page": self.per_page, "page": page})
            records = self._map_all(path, body, mapper)
            link = next_link(response)
            if not link:
                yield records, None
                return
            page = _page_of(link)
            yield records, json.dumps({"page": page})

    def _tickets(self, stream: str, state: dict | None, extra: dict[str, str]) -> Iterator[Page]:
        state = state or {"since": self.config.start_date, "page": 1}
        since, page = parse_ts(state["since"]), int(state["page"])
        start = since
        anomalies = 0
        while True:
            params = {
                **extra,
                "updated_since": iso(since),
                "order_by": "updated_at",
                "order_type": "asc",
                "include": "stats",
                "per_page": self.per_page,
                "page": page,
            }
            body, response = self.http.get_json("tickets", params)
            items = body if isinstance(body, list) else []
            stamps = [self._stamp(t, "updated_at") for t in items]
            valid = [s for s in stamps if s is not None]
            link = next_link(response)
            top = max(valid, default=since)
            if top > since:
                next_since, next_page = top, 1
            elif link and valid and all(s == since for s in valid) and len(items) >= self.per_page:
                next_since, next_page = since, _page_of(link)  # a repeated page links to itself again
                if next_page > TICKET_PAGE_CAP:
                    raise HelpdeskError(
                        f"freshdesk: more than {TICKET_PAGE_CAP * self.per_page} tickets updated at "
                        f"{iso(since)}; the list cannot page past {TICKET_PAGE_CAP}"
                    )
            elif link:
                next_since, next_page = since, page  # records older than the window: a stale page
            else:
                next_since, next_page = since, 1
            if (next_since, next_page) == (since, page) and link:
                anomalies += 1
                if anomalies > 3:
                    raise HelpdeskError(f"freshdesk: {stream} keeps serving the same page at {iso(since)}")
                continue  # nothing new on this page; it was already stored
            anomalies = 0
            records = self._map_all(stream, items, lambda t: self._ticket(t, deleted=bool(extra)))
            if not link:
                final = max(start, next_since - timedelta(seconds=self.config.overlap_seconds))
                yield records, json.dumps({"since": iso(final), "page": 1})
                return
            since, page = next_since, next_page
            yield records, json.dumps({"since": iso(since), "page": page})

    def _ratings(self, state: dict | None) -> Iterator[Page]:
        state = state or {"since": self.config.start_date, "page": 1, "hwm": None}
        since, page = parse_ts(state["since"]), int(state["page"])
        hwm = parse_ts(state.get("hwm")) or since
        path: str = "surveys/satisfaction_ratings"
        params: dict[str, Any] | None = {"created_since": iso(since), "per_page": self.per_page, "page": page}
        while True:
            body, response = self.http.get_json(path, params)
            items = body if isinstance(body, list) else []
            stamps = [s for s in (self._stamp(r, "created_at") for r in items) if s is not None]
            hwm = max([hwm, *stamps])
            records = self._map_all("satisfaction_ratings", items, self._rating)
            link = next_link(response)
            if not link:
                final = max(since, hwm - timedelta(seconds=self.config.overlap_seconds))
                yield records, json.dumps({"since": iso(final), "page": 1, "hwm": None})
                return
            path, params = link, None
            yield records, json.dumps({"since": iso(since), "page": _page_of(link), "hwm": iso(hwm)})

    def _backlog(self) -> Iterator[Page]:
        """Open unassigned tickets (FQL search, 30 a page, 10 pages) and agents available now."""
        at = self.now().astimezone(UTC)
        waiting, oldest = 0, None
        query = '"status:2 AND agent_id:null"'
        for page in range(1, SEARCH_PAGE_CAP + 1):
            body, _ = self.http.get_json("search/tickets", {"query": query, "page": page})
            waiting = int(body.get("total", 0))
            results = body.get("results") or []
            for ticket in results:
                created = self._stamp(ticket, "created_at")
                if created is not None and (oldest is None or created < oldest):
                    oldest = created
            if len(results) < 30 or page * 30 >= waiting:
                break
        online = available = 0
        page = 1
        while True:
            body, response = self.http.get_json("agents", {"per_page": self.per_page, "page": page})
            for agent in body if isinstance(body, list) else []:
                online += bool((agent.get("contact") or {}).get("active", True))
                available += bool(agent.get("available"))
            link = next_link(response)
            if not link:
                break
            page = _page_of(link)
        longest = int((at - oldest).total_seconds()) if oldest else 0
        snapshot = QueueSnapshotRecord(
            external_id=f"unassigned:{iso(at)}",
            queue="unassigned",
            at=at,
            waiting=waiting,
            longest_wait_seconds=max(0, longest),
            agents_online=online,
            agents_available=available,
        )
        yield [snapshot], None

    # --- mapping ---------------------------------------------------------------------------

    def _map_all(self, stream: str, items: Any, mapper: Callable[[dict], list[Record]]) -> list[Record]:
        return self.skipped.map(stream, items if isinstance(items, list) else [], mapper, require_id=True)

    def _skip(self, stream: str, item: Any, exc: Exception) -> None:
        self.skipped.skip(stream, item, exc)

    @staticmethod
    def _stamp(item: Any, field: str) -> datetime | None:
        try:
            return parse_ts(item.get(field)) if isinstance(item, dict) else None
        except ValueError:
            return None

    def _group(self, g: dict) -> list[Record]:
        team = str(g["id"])
        out: list[Record] = [TeamRecord(team, g.get("name") or f"Group {team}")]
        out += [MembershipRecord(team, str(a)) for a in g.get("agent_ids") or []]
        return out

    def _agent(self, a: dict) -> list[Record]:
        agent, contact = str(a["id"]), a.get("contact") or {}
        out: list[Record] = [
            AgentRecord(
                agent,
                contact.get("name") or f"Agent {agent}",
                email=contact.get("email"),
                timezone=timezone_name(contact.get("time_zone")),
                active=bool(contact.get("active", True)),
            )
        ]
        out += [MembershipRecord(str(g), agent) for g in a.get("group_ids") or []]
        since = parse_ts(a.get("available_since"))
        if since is not None:
            at = self.now().astimezone(UTC)
            status = "available" if a.get("available") else "away"
            out.append(StatusIntervalRecord(f"{agent}:{iso(since)}", agent, status, since, max(since, at)))
        return out

    def _ticket(self, t: dict, *, deleted: bool) -> list[Record]:
        ticket = str(t["id"])
        created = parse_ts(t.get("created_at"))
        if created is None:
            raise ValueError("ticket without created_at")
        stats = t.get("stats") or {}
        first = parse_ts(stats.get("first_responded_at"))
        solved = parse_ts(stats.get("resolved_at")) or parse_ts(stats.get("closed_at"))
        out: list[Record] = []
        handle = None
        if self.config.time_entries and not deleted:
            segments, handle = self._time_entries(ticket)
            out += segments
        agent = t.get("responder_id")
        group = t.get("group_id")
        out.insert(
            0,
            ContactRecord(
                external_id=ticket,
                channel=CHANNELS.get(t.get("source"), "other"),
                created_at=created,
                agent_external_id=str(agent) if agent is not None else None,
                team_external_id=str(group) if group is not None else None,
                first_response_at=first,
                solved_at=solved,
                updated_at=parse_ts(t.get("updated_at")),
                handle_seconds=handle,
                wait_seconds=max(0, int((first - created).total_seconds())) if first else None,
                escalated=bool(t.get("is_escalated") or t.get("fr_escalated")),
                reopened=stats.get("reopened_at") is not None,
                deleted=deleted or bool(t.get("deleted") or t.get("spam")),
            ),
        )
        return out

    def _time_entries(self, ticket: str) -> tuple[list[Record], int | None]:
        segments: list[Record] = []
        total: int | None = None
        path: str = f"tickets/{ticket}/time_entries"
        params: dict[str, Any] | None = {"per_page": self.per_page}
        while True:
            try:
                body, response = self.http.get_json(path, params)
            except HelpdeskError as exc:
                if exc.status == 404:  # the ticket went away since the list was read
                    return segments, total
                raise
            for entry in body if isinstance(body, list) else []:
                try:
                    seconds = hhmm_seconds(entry.get("time_spent"))
                    start = parse_ts(entry.get("start_time")) or parse_ts(entry.get("executed_at"))
                    if entry.get("id") is None or start is None or entry.get("agent_id") is None:
                        raise ValueError("time entry without id, agent or start")
                except (ValueError, AttributeError) as exc:
                    self._skip("time_entries", entry, exc)
                    continue
                total = (total or 0) + seconds
                segments.append(
                    WorkSegmentRecord(
                        f"te:{entry['id']}",
                        str(entry["agent_id"]),
                        start,
                        start + timedelta(seconds=seconds),
                        contact_external_id=ticket,
                    )
                )
            link = next_link(response)
            if not link:
                return segments, total
            path, params = link, None

    def _rating(self, r: dict) -> list[Record]:
        ratings = r.get("ratings") or {}
        if "default_question" not in ratings or r.get("ticket_id") is None:
            raise ValueError("rating without default_question or ticket_id")
        rated = parse_ts(r.get("created_at"))
        if rated is None:
            raise ValueError("rating without created_at")
        agent = r.get("agent_id")
        return [
            CsatRecord(
                str(r["id"]),
                str(r["ticket_id"]),
                csat_score(ratings["default_question"]),
                rated,
                agent_external_id=str(agent) if agent is not None else None,
            )
        ]
