"""Intercom connector: admins, teams, conversations (+ CSAT), away-mode history and a queue snapshot.

Endpoints (``../shared/reference/helpdesk-apis.md`` section 3), Bearer token plus ``Intercom-Version``:

* ``GET /teams`` and ``GET /admins``: full refresh each run (not paginated in practice; a
  ``pages.next.starting_after`` is followed anyway). Memberships come from ``admins[].team_ids``.
* ``POST /conversations/search``: incremental on ``updated_at`` (``>`` OR ``=`` the high-water mark,
  sorted ascending, ``per_page`` 150), paged with ``pages.next.starting_after`` in the next body.
* ``GET /admins/activity_logs?created_at_after=&created_at_before=``: ``admin_away_mode_change``
  entries become status intervals (away / available), read one day-window at a time.
* ``POST /conversations/search`` for ``state = open``: the backlog snapshot at sync time.

Cursors (JSON strings):

* conversations: ``{"updated_since": unix}``. After each page it is the highest ``updated_at`` seen
  minus :data:`OVERLAP_SECONDS` (search-index lag, whole-second timestamps); upserts make the
  re-read overlap harmless. A restarted run re-searches from there, never with a stale token.
* statuses: ``{"after": unix, "open": {admin_id: [status, since]}}``: the next window's start and
  each admin's last known away-mode change (an interval is emitted when the next change closes it).
* teams, admins, queue: none (full refresh / snapshot).

Field mapping, and what stays unknown:

* channel from ``source.type``; agent = ``admin_assignee_id``; team = ``team_assignee_id``.
* ``handle_seconds`` = ``statistics.adjusted_handling_time`` (active handling, idle excluded; only
  sent by API 2.14+, else None). ``handling_time`` (assignment to close, elapsed) is *not* handle
  time and is not used. talk/hold/wrap: Intercom exposes no split, always None.
* ``wait_seconds`` = ``statistics.time_to_admin_reply``; ``first_response_at`` =
  ``first_admin_reply_at``; ``solved_at`` = ``last_close_at`` while the state is ``closed``.
* ``csat`` and a :class:`CsatRecord` from ``conversation_rating`` (1-5, ``teammate.id``).
* ``reopened`` = ``count_reopens > 0``. ``escalated`` and ``sentiment``: not exposed, False / None.
* Deletions: Intercom has no tombstones (deleted conversations and removed admins just vanish),
  so nothing is emitted with ``deleted=True``; see the module's report for the reconcile gap.
* Agents: timezone and scheduled hours are not in the API (defaults); ``active`` = ``has_inbox_seat``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
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
from connectors.http import HelpdeskError, HelpdeskHttp, build_client
from connectors.mapping import SkippedRecords

log = logging.getLogger("ax.connectors.intercom")

SOURCE = "intercom"
AUTH_SETTINGS = "AX_INTERCOM_ACCESS_TOKEN (and AX_INTERCOM_BASE_URL for EU/AU workspaces)"
PER_PAGE = 150
OVERLAP_SECONDS = 300
STATUS_WINDOW = timedelta(days=1)
MAX_SAME_TOKEN = 3  # a repeated starting_after more often than this is a pagination loop

CHANNELS = {
    "conversation": "chat",
    "email": "email",
    "phone_call": "phone",
    "phone_switch": "phone",
    "sms": "messaging",
    "whatsapp": "messaging",
    "facebook": "social",
    "instagram": "social",
    "twitter": "social",
    "push": "other",
}


@dataclass(frozen=True)
class IntercomConfig:
    access_token: str
    base_url: str = "https://api.intercom.io"
    api_version: str = "2.14"  # handling_time statistics need 2.14+; keep it a string ("2.10" != 2.1)
    start_at: datetime | None = None  # first sync: conversations updated and status changes since then

    def __repr__(self) -> str:  # never show the token
        return f"IntercomConfig(base_url={self.base_url!r}, api_version={self.api_version!r})"


class _Malformed(ValueError):
    pass


def _ts(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _Malformed(f"bad timestamp {value!r}")
    return datetime.fromtimestamp(int(value), tz=UTC)


def _opt_ts(value: Any) -> datetime | None:
    return None if value is None else _ts(value)


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _id(value: Any) -> str | None:
    return None if value in (None, "", 0) else str(value)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


class IntercomConnector:
    name = SOURCE

    def __init__(self, http: HelpdeskHttp, *, start_at: datetime | None = None, now=None) -> None:
        self.http = http
        self.start_at = start_at
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.skipped = SkippedRecords(SOURCE)

    def streams(self) -> Sequence[str]:
        return ("teams", "admins", "conversations", "statuses", "queue")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        handlers = {
            "teams": self._teams,
            "admins": self._admins,
            "conversations": self._conversations,
            "statuses": self._statuses,
            "queue": self._queue,
        }
        if stream not in handlers:
            raise ValueError(f"intercom has no stream {stream!r}")
        return handlers[stream](cursor)

    # --- paginators ---------------------------------------------------------------------------

    def _list(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
        """GET list pages, following ``pages.next`` (a dict with starting_after, or a URL)."""
        params: dict[str, Any] | None = dict(params or {})
        url: str = path
        seen: Counter[str] = Counter()
        while True:
            body, _ = self.http.get_json(url, params)
            yield list(body.get(key) or [])
            nxt = (body.get("pages") or {}).get("next")
            if not nxt:
                return
            token = nxt if isinstance(nxt, str) else nxt.get("starting_after")
            if not token:
                return
            self._guard(seen, token, path)
            if isinstance(nxt, str):
                url, params = nxt, None  # the next URL carries every parameter
            else:
                params = {**(params or {}), "starting_after": token}

    def _search(self, path: str, query: dict, sort: dict | None = None) -> Iterator[dict]:
        """POST search pages, sending ``pages.next.starting_after`` back in the next body."""
        body: dict[str, Any] = {"query": query, "pagination": {"per_page": PER_PAGE}}
        if sort:
            body["sort"] = sort
        seen: Counter[str] = Counter()
        while True:
            page, _ = self.http.request_json("POST", path, json=body)
            yield page
            token = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not token:
                return
            self._guard(seen, token, path)
            body = {**body, "pagination": {"per_page": PER_PAGE, "starting_after": token}}

    @staticmethod
    def _guard(seen: Counter[str], token: str, path: str) -> None:
        seen[token] += 1
        if seen[token] > MAX_SAME_TOKEN:
            raise HelpdeskError(f"{SOURCE}: {path} keeps returning the same next page; pagination loop")

    def _skip(self, stream: str, raw: Any, why: Exception) -> None:
        self.skipped.skip(stream, raw, why)

    # --- streams ------------------------------------------------------------------------------

    def _teams(self, cursor: str | None) -> Iterator[Page]:
        for items in self._list("/teams", "teams"):
            records: list[Record] = []
            for raw in items:
                try:
                    if not _id(raw.get("id")):
                        raise _Malformed("team without id")
                    records.append(TeamRecord(str(raw["id"]), str(raw.get("name") or f"Team {raw['id']}")))
                except (_Malformed, AttributeError, TypeError) as exc:
                    self._skip("teams", raw, exc)
            yield records, None

    def _admins(self, cursor: str | None) -> Iterator[Page]:
        for items in self._list("/admins", "admins"):
            records: list[Record] = []
            for raw in items:
                try:
                    admin = _id(raw.get("id"))
                    if not admin:
                        raise _Malformed("admin without id")
                    records.append(
                        AgentRecord(
                            admin,
                            str(raw.get("name") or raw.get("email") or f"Admin {admin}"),
                            email=raw.get("email"),
                            active=bool(raw.get("has_inbox_seat", True)),
                        )
                    )
                    for team in raw.get("team_ids") or []:
                        records.append(MembershipRecord(str(team), admin))
                except (_Malformed, AttributeError, TypeError) as exc:
                    self._skip("admins", raw, exc)
            yield records, None

    def _conversations(self, cursor: str | None) -> Iterator[Page]:
        if cursor:
            since = int(json.loads(cursor)["updated_since"])
        else:
            since = _unix(self.start_at) if self.start_at else 0
        query = {
            "operator": "OR",
            "value": [
                {"field": "updated_at", "operator": ">", "value": since},
                {"field": "updated_at", "operator": "=", "value": since},
            ],
        }
        high = since + OVERLAP_SECONDS  # resume point never moves backwards
        sort = {"field": "updated_at", "order": "ascending"}
        for page in self._search("/conversations/search", query, sort):
            records: list[Record] = []
            for raw in page.get("conversations") or []:
                try:
                    contact, csat = self._conversation(raw)
                except (_Malformed, AttributeError, TypeError, ValueError, KeyError) as exc:
                    self._skip("conversations", raw, exc)
                    continue
                records.append(contact)
                if csat:
                    records.append(csat)
                high = max(high, _unix(contact.updated_at))
            yield records, json.dumps({"updated_since": high - OVERLAP_SECONDS})

    def _conversation(self, raw: dict) -> tuple[ContactRecord, CsatRecord | None]:
        conv = _id(raw.get("id"))
        if not conv:
            raise _Malformed("conversation without id")
        stats = raw.get("statistics") or {}
        created, updated = _ts(raw.get("created_at")), _ts(raw.get("updated_at"))
        agent = _id(raw.get("admin_assignee_id"))
        rating = raw.get("conversation_rating") or {}
        score = rating.get("rating")
        csat = None
        if isinstance(score, int) and 1 <= score <= 5:
            rater = _id((rating.get("teammate") or {}).get("id")) or agent
            csat = CsatRecord(conv, conv, score, _opt_ts(rating.get("created_at")) or updated, rater)
        else:
            score = None
        contact = ContactRecord(
            external_id=conv,
            channel=CHANNELS.get((raw.get("source") or {}).get("type"), "other"),
            created_at=created,
            updated_at=updated,
            agent_external_id=agent,
            team_external_id=_id(raw.get("team_assignee_id")),
            first_response_at=_opt_ts(stats.get("first_admin_reply_at")),
            solved_at=_opt_ts(stats.get("last_close_at")) if raw.get("state") == "closed" else None,
            handle_seconds=_opt_int(stats.get("adjusted_handling_time")),
            wait_seconds=_opt_int(stats.get("time_to_admin_reply")),
            csat=score,
            reopened=(_opt_int(stats.get("count_reopens")) or 0) > 0,
        )
        return contact, csat

    def _statuses(self, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        start = state.get("after")
        if start is None:
            start = _unix(self.start_at or self.now() - timedelta(days=30))
        open_: dict[str, list] = state.get("open", {})
        now = _unix(self.now())
        while start < now:
            end = min(now, start + int(STATUS_WINDOW.total_seconds()))
            changes = []
            params = {"created_at_after": start - 1, "created_at_before": end}
            for items in self._list("/admins/activity_logs", "activity_logs", params):
                for raw in items:
                    if (raw or {}).get("activity_type") != "admin_away_mode_change":
                        continue
                    try:
                        at = _unix(_ts(raw.get("created_at")))
                        admin = _id((raw.get("performed_by") or {}).get("id"))
                        away = (raw.get("metadata") or {}).get("away_mode")
                        if not admin or not isinstance(away, bool):
                            raise _Malformed("away-mode change without admin or away_mode")
                    except (_Malformed, AttributeError, TypeError) as exc:
                        self._skip("statuses", raw, exc)
                        continue
                    if start <= at < end:  # the API's bound inclusiveness is not relied upon
                        changes.append((at, str(raw.get("id")), admin, "away" if away else "available"))
            records: list[Record] = []
            for at, _, admin, status in sorted(changes):
                if admin in open_ and open_[admin][1] < at:
                    prev, since = open_[admin]
                    records.append(StatusIntervalRecord(f"{admin}:{since}", admin, prev, _ts(since), _ts(at)))
                open_[admin] = [status, at]
            start = end
            yield records, json.dumps({"after": start, "open": open_}, sort_keys=True)

    def _queue(self, cursor: str | None) -> Iterator[Page]:
        at = self.now()
        waiting, longest = 0, 0
        query = {"operator": "AND", "value": [{"field": "state", "operator": "=", "value": "open"}]}
        for page in self._search("/conversations/search", query):
            for raw in page.get("conversations") or []:
                if not isinstance(raw, dict) or not _id(raw.get("id")):
                    continue
                since = raw.get("waiting_since")
                if raw.get("admin_assignee_id") or not isinstance(since, int):
                    continue
                waiting += 1
                longest = max(longest, _unix(at) - since)
        body, _ = self.http.get_json("/admins")
        seated = [a for a in body.get("admins") or [] if a.get("has_inbox_seat", True)]
        available = sum(1 for a in seated if not a.get("away_mode_enabled"))
        snapshot = QueueSnapshotRecord(
            external_id=f"open-unassigned:{at.isoformat()}",
            queue="open-unassigned",
            at=at,
            waiting=waiting,
            longest_wait_seconds=longest,
            agents_online=available,  # away mode is the only presence Intercom exposes
            agents_available=available,
        )
        yield [snapshot], None


def build_intercom(
    config: IntercomConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] | None = None,
    **http_options: Any,
) -> IntercomConnector:
    client = build_client(
        base_url=config.base_url,
        headers={
            "Authorization": f"Bearer {config.access_token}",
            "Intercom-Version": str(config.api_version),
        },
        transport=transport,
    )
    http = HelpdeskHttp(client, source=SOURCE, auth_settings=AUTH_SETTINGS, sleep=sleep, **http_options)
    return IntercomConnector(http, start_at=config.start_at, now=now)
