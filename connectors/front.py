"""Front (Core API) connector: teammates, teams + members, conversations via the event stream, live.

Reference: ``helpdesk-apis.md`` section 5. Settings ``AX_FRONT_API_TOKEN`` and ``AX_FRONT_BASE_URL``
(default ``https://api2.frontapp.com``); auth is ``Authorization: Bearer {token}``. Every list
answers ``{"_pagination": {"next": <full URL or null>}, "_links": {…}, "_results": [...]}``;
``limit`` is at most 100. Timestamps are unix seconds as floats (``1699575875.186``).

Streams, in order, with their cursors (JSON strings):

* ``teammates``: ``GET /teammates``. Full refresh; cursor ``{"next": url}`` mid-list, None at the end.
* ``teams``: ``GET /teams``, then ``GET /teams/{id}`` per team for ``teammates[]`` (memberships).
  Full refresh; cursor as above.
* ``conversations``: ``GET /events?q[after]=&sort_by=created_at&sort_order=asc&limit=``. Events
  are append-only and sorted ascending, so following ``_pagination.next`` is stable under new
  activity. For every conversation an event page touches, ``GET /conversations/{id}`` (current
  state) and ``GET /conversations/{id}/events`` (its full history) give one complete
  :class:`ContactRecord`, so a later sync seeing only the newest event never blanks older facts.
  Cursor mid-stream ``{"after": since, "hwm": newest emitted_at, "next": url}``; at the end
  ``{"after": hwm - overlap_seconds}`` (``q[after]`` boundary and event-index lag; upserts make
  the re-read harmless). The event search (not ``/conversations/search`` with ``after:``) is used
  because ``after:`` matches messages only and misses assign/archive/trash changes.
* ``live``: ``GET /teammates`` (``is_available``) and ``GET /conversations?q[statuses][]=unassigned``:
  one backlog :class:`QueueSnapshotRecord` (unassigned count, longest ``waiting_since``) and one
  :class:`StatusIntervalRecord` per teammate, sampled: the state seen now is assumed to have held
  since the previous sample when that is at most ``max_sample_gap`` old, else a point interval.
  Cursor ``{"at": unix}`` of the sample.

Mapping, and what stays unknown:

* Contact: channel from the message ``type`` of the conversation's first message event
  (``inbound``/``outbound``/``out_reply`` target), else ``other``; agent = ``assignee.id``;
  ``first_response_at`` = first ``out_reply``; ``solved_at`` = last ``archive`` while the status is
  ``archived``; ``wait_seconds`` = created → first reply; ``reopened`` = any ``reopen`` event;
  ``escalated`` = any ``move`` (moved to another inbox); ``updated_at`` = newest event.
* Deletions: status ``deleted`` (trashed) gives ``deleted=True``; a conversation whose events name
  it but which answers 404 (purged after trash) becomes ``DeletionRecord("contact", id)``.
* Unknown (None): ``handle/talk/hold/wrap_seconds``: Front exposes handle time only as the
  analytics ``avg_handle_time`` aggregate per teammate and whole day (no per-conversation value,
  and AX has no record for vendor aggregates); ``csat`` (analytics aggregates only); ``sentiment``;
  ``team_external_id`` (Front teams own inboxes, not conversations); ``queue``.
* Teammates cannot be deleted in Front, only blocked (``is_blocked`` -> inactive). Removed teams and
  memberships vanish from the lists without tombstones and stay as last seen.

Malformed single records (missing id, bad timestamp) are logged without secrets and counted in
``connector.skipped[stream]``; the stream goes on.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.contract import Page
from connectors.http import HelpdeskError, HelpdeskHttp, build_client
from connectors.mapping import SkippedRecords
from db.records import (
    AgentRecord,
    ContactRecord,
    DeletionRecord,
    MembershipRecord,
    QueueSnapshotRecord,
    Record,
    StatusIntervalRecord,
    TeamRecord,
)

log = logging.getLogger("ax.connectors.front")

SOURCE = "front"
AUTH_SETTINGS = "AX_FRONT_API_TOKEN (and AX_FRONT_BASE_URL)"
LIMIT = 100
# Front message types -> AX channel
CHANNELS = {
    "email": "email",
    "front_chat": "chat",
    "intercom": "chat",
    "sms": "messaging",
    "whatsapp": "messaging",
    "yalo_wha": "messaging",
    "smooch": "messaging",
    "call": "phone",
    "phone-call": "phone",
    "tweet": "social",
    "tweet_dm": "social",
    "facebook": "social",
    "googleplay": "other",
    "custom": "other",
}
MESSAGE_EVENTS = ("inbound", "outbound", "out_reply")


@dataclass(frozen=True)
class FrontConfig:
    api_token: str
    base_url: str = "https://api2.frontapp.com"
    start_at: float = 0.0  # unix seconds of the first sync's history start
    limit: int = LIMIT
    overlap_seconds: int = 300
    max_sample_gap: int = 900

    def __repr__(self) -> str:  # the token never reaches a log line
        return f"FrontConfig(base_url={self.base_url!r}, start_at={self.start_at!r})"


class Malformed(ValueError):
    """One record the mapping cannot use."""


def ts(value: Any) -> datetime:
    """Front's unix seconds (float with milliseconds, or int) to aware UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"bad timestamp {value!r}")
    return datetime.fromtimestamp(value, UTC)


def _id(obj: Any) -> str:
    value = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise Malformed("missing id")
    return value


def build_front(
    config: FrontConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    **http_options: Any,
) -> FrontConnector:
    client = build_client(
        base_url=config.base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {config.api_token}"},
        transport=transport,
    )
    http = HelpdeskHttp(client, source=SOURCE, auth_settings=AUTH_SETTINGS, sleep=sleep, **http_options)
    return FrontConnector(http, config, now=now)


class FrontConnector:
    """Front Core API; see the module docstring for streams, cursors and mapping."""

    name = SOURCE

    def __init__(self, http: HelpdeskHttp, config: FrontConfig, *, now: Callable[[], datetime]) -> None:
        self.http = http
        self.config = config
        self.now = now
        self.limit = max(1, min(config.limit, LIMIT))
        self.skipped = SkippedRecords(SOURCE)

    def streams(self) -> Sequence[str]:
        return ("teammates", "teams", "conversations", "live")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        producers = {
            "teammates": self._teammates,
            "teams": self._teams,
            "conversations": self._conversations,
            "live": self._live,
        }
        if stream not in producers:
            raise ValueError(f"front has no stream {stream!r}")
        return producers[stream](state)

    # --- paginator and mapping helper ---------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any] | None, url: str | None = None):
        """``_results`` pages, following ``_pagination.next`` (a full URL) until it is null."""
        while True:
            body, _ = self.http.get_json(url or path, None if url else params)
            if not isinstance(body, dict) or not isinstance(body.get("_results"), list):
                raise HelpdeskError(f"front: {path} answered without a _results list")
            nxt = (body.get("_pagination") or {}).get("next")
            yield body["_results"], nxt
            if not nxt:
                return
            url = nxt

    def _map(self, stream: str, items: list[Any], mapper: Callable[[dict], list[Record]]) -> list[Record]:
        return self.skipped.map(stream, items, mapper)

    def _skip(self, stream: str, item: Any, exc: Exception) -> None:
        self.skipped.skip(stream, item, exc)

    # --- directory -----------------------------------------------------------------------------

    def _teammates(self, state: dict) -> Iterator[Page]:
        for items, nxt in self._pages("teammates", {"limit": self.limit}, state.get("next")):
            yield self._map("teammates", items, self._teammate), json.dumps({"next": nxt}) if nxt else None

    def _teammate(self, t: dict) -> list[Record]:
        tid = _id(t)
        name = " ".join(p for p in (t.get("first_name"), t.get("last_name")) if p) or t.get("username")
        return [AgentRecord(tid, name or tid, email=t.get("email"), active=not t.get("is_blocked", False))]

    def _teams(self, state: dict) -> Iterator[Page]:
        for items, nxt in self._pages("teams", {"limit": self.limit}, state.get("next")):
            yield self._map("teams", items, self._team), json.dumps({"next": nxt}) if nxt else None

    def _team(self, t: dict) -> list[Record]:
        tid = _id(t)
        try:
            detail, _ = self.http.get_json(f"teams/{quote(tid)}")
        except HelpdeskError as exc:
            if exc.status == 404:  # deleted between the list and this read
                return []
            raise
        out: list[Record] = [TeamRecord(tid, str(detail.get("name") or t.get("name") or tid))]
        for member in detail.get("teammates") or []:
            try:
                out.append(MembershipRecord(tid, _id(member)))
            except Malformed as exc:
                self._skip("memberships", member, exc)
        return out

    # --- conversations via events --------------------------------------------------------------

    def _conversations(self, state: dict) -> Iterator[Page]:
        since = float(state.get("after", self.config.start_at))
        hwm = float(state.get("hwm", since))
        params = {
            "q[after]": since,
            "sort_by": "created_at",
            "sort_order": "asc",
            "limit": self.limit,
        }
        for events, nxt in self._pages("events", params, state.get("next")):
            touched: dict[str, None] = {}
            for event in events:
                try:
                    emitted = ts(event.get("emitted_at") if isinstance(event, dict) else None)
                    hwm = max(hwm, emitted.timestamp())  # read, even if unusable: never re-asked
                    touched[_id(event.get("conversation"))] = None
                except (Malformed, AttributeError) as exc:
                    self._skip("events", event, exc)
            records: list[Record] = []
            for cid in touched:
                try:
                    records.extend(self._conversation(cid))
                except (Malformed, KeyError, TypeError, ValueError) as exc:
                    self._skip("conversations", {"id": cid}, exc)
            if nxt:
                cursor = {"after": since, "hwm": hwm, "next": nxt}
            else:
                cursor = {"after": max(since, hwm - self.config.overlap_seconds)}
            yield records, json.dumps(cursor)

    def _conversation(self, cid: str) -> list[Record]:
        try:
            conv, _ = self.http.get_json(f"conversations/{quote(cid)}")
        except HelpdeskError as exc:
            if exc.status == 404:  # trashed and purged since the event was emitted
                return [DeletionRecord("contact", cid)]
            raise
        created = ts(conv.get("created_at"))
        history: list[tuple[datetime, str, dict]] = []
        for items, _ in self._pages(f"conversations/{quote(cid)}/events", {"limit": self.limit}):
            for e in items:
                try:
                    history.append((ts(e.get("emitted_at")), str(e.get("type")), e))
                except (Malformed, AttributeError) as exc:
                    self._skip("events", e, exc)
        history.sort(key=lambda h: h[0])
        replies = [at for at, kind, _ in history if kind == "out_reply"]
        archives = [at for at, kind, _ in history if kind == "archive"]
        kinds = {kind for _, kind, _ in history}
        channel = "other"
        for _, kind, e in history:
            if kind in MESSAGE_EVENTS:
                data = (e.get("target") or {}).get("data") or {}
                channel = CHANNELS.get(data.get("type"), "other")
                break
        first = replies[0] if replies else None
        status = conv.get("status")
        assignee = conv.get("assignee") or {}
        contact = ContactRecord(
            external_id=_id(conv),
            channel=channel,
            created_at=created,
            agent_external_id=assignee.get("id") or None,
            first_response_at=first,
            solved_at=archives[-1] if status == "archived" and archives else None,
            updated_at=history[-1][0] if history else None,
            wait_seconds=max(0, int((first - created).total_seconds())) if first else None,
            escalated="move" in kinds,
            reopened="reopen" in kinds,
            deleted=status == "deleted",
        )
        return [contact]

    # --- live: backlog snapshot and sampled teammate availability ------------------------------

    def _live(self, state: dict) -> Iterator[Page]:
        at = self.now().astimezone(UTC)
        previous = state.get("at")
        gap_ok = previous is not None and 0 <= at.timestamp() - previous <= self.config.max_sample_gap
        start = datetime.fromtimestamp(previous, UTC) if gap_ok else at
        records: list[Record] = []
        online = available = 0
        for items, _ in self._pages("teammates", {"limit": self.limit}):
            for t in items:
                try:
                    tid = _id(t)
                except Malformed as exc:
                    self._skip("live", t, exc)
                    continue
                if t.get("is_blocked"):
                    continue
                online += 1
                free = bool(t.get("is_available"))
                available += free
                status = "available" if free else "away"
                records.append(
                    StatusIntervalRecord(f"{tid}:{int(start.timestamp())}", tid, status, start, at)
                )
        waiting, oldest = 0, None
        params = {"q[statuses][]": "unassigned", "limit": self.limit}
        for items, _ in self._pages("conversations", params):
            for c in items:
                waiting += 1
                try:
                    since = ts(c.get("waiting_since") or c.get("created_at"))
                except (Malformed, AttributeError) as exc:
                    self._skip("live", c, exc)
                    continue
                oldest = since if oldest is None else min(oldest, since)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append(
            QueueSnapshotRecord(
                external_id=f"unassigned:{stamp}",
                queue="unassigned",
                at=at,
                waiting=waiting,
                longest_wait_seconds=max(0, int((at - oldest).total_seconds())) if oldest else 0,
                agents_online=online,
                agents_available=available,
            )
        )
        yield records, json.dumps({"at": at.timestamp()})
