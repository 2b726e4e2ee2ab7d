"""A fake Front Core API (an ``httpx.MockTransport`` handler) holding deterministic ground truth.

It speaks the real envelope ``{"_pagination": {"next": <full URL | null>}, "_links": {"self": …},
"_results": [...]}``, opaque ``page_token`` paging (``limit`` max 100, 400 above), float unix
timestamps with milliseconds, Bearer auth (401 ``_error`` body otherwise) and the lowercase
``x-ratelimit-*`` headers (``x-ratelimit-reset`` a unix time; 429 adds ``retry-after`` and
``x-front-tier``). Endpoints: ``/teammates``, ``/teams``, ``/teams/{id}``, ``/events`` (``q[after]``,
``q[before]``, ``sort_by=created_at``, ``sort_order``), ``/conversations`` (``q[statuses][]``),
``/conversations/{id}`` (404 once purged) and ``/conversations/{id}/events``.

``faults`` maps a request number (1-based, every request counts) to ``"429"``, ``"500"``,
``"timeout"``, ``"truncated"``, ``"duplicate"`` (the previous response of the same path served
again) or ``"fatal"`` (a 400).
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC).timestamp()
WALL = 1_700_000_000
MESSAGE_TYPES = {
    "email": "email",
    "front_chat": "chat",
    "sms": "messaging",
    "whatsapp": "messaging",
    "phone-call": "phone",
    "tweet": "social",
    "custom": "other",
}


def _ms(value: float) -> float:
    return round(value, 3)


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(value: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(value.encode()))


class FakeFront:
    def __init__(
        self,
        seed: int = 0,
        *,
        teammates: int = 8,
        teams: int = 3,
        conversations: int = 120,
        token: str = "front-jwt-0123456789abcdef",
        rate_limit: int = 100_000,
        faults: dict[int, str] | None = None,
        retry_after: int = 7,
    ) -> None:
        self.rng = random.Random(seed)
        self.token = token
        self.base = "https://api2.frontapp.com"
        self.rate_limit, self.retry_after = rate_limit, retry_after
        self.faults: dict[int, str] = dict(faults or {})
        self.now = NOW
        self.requests = 0
        self.served: Counter[str] = Counter()
        self.log: list[str] = []
        self.on_request: Callable[[FakeFront, httpx.Request], None] | None = None
        self._last: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self._next_event = 1
        self.teammates: list[dict[str, Any]] = []
        for n in range(teammates):
            self.teammates.append(
                {
                    "_links": {"self": f"{self.base}/teammates/tea_{n + 1}"},
                    "id": f"tea_{n + 1}",
                    "email": f"agent{n}@acme.com",
                    "username": f"agent{n}",
                    "first_name": f"Agent{n}",
                    "last_name": "Lee",
                    "is_admin": n == 0,
                    "is_available": self.rng.random() < 0.6,
                    "is_blocked": n == teammates - 1,
                    "type": "user",
                    "custom_fields": {},
                }
            )
        ids = [t["id"] for t in self.teammates]
        self.teams = [
            {"id": f"tim_{n + 1}", "name": f"Team {n}", "members": sorted(self.rng.sample(ids, 3))}
            for n in range(teams)
        ]
        self.conversations: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.purged: set[str] = set()
        for _ in range(conversations):
            self._new_conversation(NOW - 40 * 86400 + self.rng.random() * 35 * 86400)
        bulk = NOW - 3 * 86400 + 0.5  # a bulk archive: many events sharing one emitted_at
        for cid in sorted(self.conversations)[10:45]:
            if self.conversations[cid]["status"] not in ("archived", "deleted"):
                self._event(cid, "archive", bulk, source=ids[0])
        for cid in self.rng.sample(sorted(self.conversations), 5):
            self._event(cid, "trash", self.conversations[cid]["created_at"] + 86400 * 2, source=ids[1])
        self.purged.update(sorted(c for c, v in self.conversations.items() if v["status"] == "deleted")[:2])
        # malformed on purpose: the connector must skip and count these, never abort
        self.bad_conversation = sorted(self.conversations)[3]
        self.conversations[self.bad_conversation]["created_at"] = "31/02/2026"
        self.events.append(
            {"id": "evt_bad", "type": "tag", "emitted_at": NOW - 86400, "conversation": {"subject": "x"}}
        )
        self.events.sort(key=lambda e: (e["emitted_at"], e["id"]))

    # --- ground truth ------------------------------------------------------------------------

    def _new_conversation(self, created: float) -> str:
        rng = self.rng
        cid = f"cnv_{len(self.conversations) + 1:05d}"
        created = _ms(created)
        conv = {
            "_links": {"self": f"{self.base}/conversations/{cid}"},
            "id": cid,
            "subject": f"Subject {cid}",
            "status": "unassigned",
            "assignee": None,
            "recipient": {"handle": f"c{rng.randint(1, 99)}@x.com", "role": "from"},
            "tags": [],
            "links": [],
            "created_at": created,
            "waiting_since": created,
            "is_private": False,
            "scheduled_reminders": [],
            "metadata": {},
        }
        self.conversations[cid] = conv
        kind = rng.choice(list(MESSAGE_TYPES))
        self._event(cid, "inbound", created, target={"_meta": {"type": "message"}, "data": {"type": kind}})
        at = created
        if rng.random() < 0.8:
            at += rng.uniform(60, 3600)
            self._event(cid, "assign", at, assignee=rng.choice(self.teammates)["id"])
            if rng.random() < 0.8:
                at += rng.uniform(60, 7200)
                self._event(cid, "out_reply", at, source=conv["assignee"]["id"])
            if rng.random() < 0.1:
                at += rng.uniform(60, 600)
                self._event(cid, "move", at, source=conv["assignee"]["id"])
            if rng.random() < 0.6:
                at += rng.uniform(60, 7200)
                self._event(cid, "archive", at, source=conv["assignee"]["id"])
                if rng.random() < 0.15:
                    at += rng.uniform(600, 86400)
                    self._event(cid, "reopen", at)
        return cid

    def _event(
        self,
        cid: str,
        kind: str,
        at: float,
        *,
        source: str | None = None,
        assignee: str | None = None,
        target: dict | None = None,
    ) -> dict[str, Any]:
        conv = self.conversations[cid]
        if kind == "assign":
            conv["assignee"] = {"id": assignee, "email": f"{assignee}@acme.com"}
            target = {"_meta": {"type": "teammate"}, "data": {"id": assignee}}
        if kind in ("assign", "reopen", "restore"):
            conv["status"] = "assigned" if conv["assignee"] else "unassigned"
        if kind == "archive":
            conv["status"] = "archived"
        if kind == "trash":
            conv["status"] = "deleted"
        if kind == "out_reply":
            target = {"_meta": {"type": "message"}, "data": {"type": "email"}}
        event = {
            "_links": {"self": f"{self.base}/events/evt_{self._next_event}"},
            "id": f"evt_{self._next_event:07d}",
            "type": kind,
            "emitted_at": _ms(at),
            "source": {"_meta": {"type": "teammate"}, "data": {"id": source}} if source else None,
            "target": target,
            "conversation": {"id": cid, "subject": conv["subject"], "status": conv["status"]},
        }
        self._next_event += 1
        self._last.clear()  # the data changed: no stale page may be replayed
        conv.setdefault("_events", []).append(event)
        self.events.append(event)
        return event

    def tick(self, seconds: float = 60.0) -> float:
        self.now = _ms(self.now + seconds)
        return self.now

    def add_conversations(self, n: int) -> list[str]:
        self.tick()
        out = [self._new_conversation(self.tick(1)) for _ in range(n)]
        self.events.sort(key=lambda e: (e["emitted_at"], e["id"]))
        return out

    def act(self, cid: str, kind: str, **kw: Any) -> None:
        """A new event on an existing conversation (assign, out_reply, archive, reopen, trash…)."""
        self._event(cid, kind, self.tick(), **kw)
        self.events.sort(key=lambda e: (e["emitted_at"], e["id"]))

    def purge(self, cid: str) -> None:
        self.act(cid, "trash", source=self.teammates[0]["id"])
        self.purged.add(cid)

    def expected_contacts(self) -> dict[str, dict[str, Any]]:
        out = {}
        for cid, conv in self.conversations.items():
            if cid in self.purged or cid == self.bad_conversation:
                continue
            evs = conv["_events"]
            replies = [e["emitted_at"] for e in evs if e["type"] == "out_reply"]
            archives = [e["emitted_at"] for e in evs if e["type"] == "archive"]
            first = replies[0] if replies else None
            out[cid] = {
                "channel": MESSAGE_TYPES[evs[0]["target"]["data"]["type"]],
                "agent": (conv["assignee"] or {}).get("id"),
                "first_response_at": first,
                "solved_at": max(archives) if archives and conv["status"] == "archived" else None,
                "updated_at": max(e["emitted_at"] for e in evs),
                "wait_seconds": int(first - conv["created_at"]) if first else None,
                "escalated": any(e["type"] == "move" for e in evs),
                "reopened": any(e["type"] == "reopen" for e in evs),
                "deleted": conv["status"] == "deleted",
            }
        return out

    def expected_memberships(self) -> set[tuple[str, str]]:
        return {(t["id"], m) for t in self.teams for m in t["members"]}

    def expected_backlog(self) -> tuple[int, int]:
        rows = [c for c in self.conversations.values() if c["status"] == "unassigned"]
        oldest = min((c["waiting_since"] for c in rows), default=None)
        return len(rows), int(self.now - oldest) if oldest is not None else 0

    # --- HTTP --------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        n = self.requests
        self.log.append(f"{request.url.path}?{request.url.query.decode()}")
        if self.on_request:
            self.on_request(self, request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            body = {"_error": {"status": 401, "title": "Unauthenticated", "message": "Invalid token"}}
            return self._json(401, body)
        fault = self.faults.get(n)
        key = request.url.path
        if fault and (fault != "duplicate" or key in self._last):
            self.served[fault] += 1
        if fault == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if fault == "429":
            extra = {"retry-after": str(self.retry_after), "x-front-tier": "tier2"}
            return self._json(429, {"_error": {"status": 429, "title": "Too Many Requests"}}, extra)
        if fault == "500":
            return self._json(500, {"_error": {"status": 500, "title": "Internal Server Error"}})
        if fault == "fatal":
            return self._json(400, {"_error": {"status": 400, "title": "Bad request"}})
        if fault == "duplicate" and key in self._last:
            status, body, headers = self._last[key]
            return httpx.Response(status, content=body, headers=headers)
        response = self._route(request)
        if response.status_code == 200:
            self._last[key] = (200, response.content, dict(response.headers))
        if fault == "truncated":
            return httpx.Response(200, content=response.content[: len(response.content) // 2])
        return response

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        remaining = self.rate_limit - ((self.requests - 1) % self.rate_limit) - 1
        return {
            "content-type": "application/json",
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(WALL + 60),
            "x-ratelimit-burst-remaining": str(self.rate_limit // 2),
            **(extra or {}),
        }

    def _json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers=self._headers(extra))

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.strip("/")
        parts = path.split("/")
        if path == "teammates":
            return self._list(request, self.teammates)
        if path == "teams":
            return self._list(request, [{"id": t["id"], "name": t["name"]} for t in self.teams])
        if parts[0] == "teams" and len(parts) == 2:
            team = next((t for t in self.teams if t["id"] == parts[1]), None)
            if team is None:
                return self._json(404, {"_error": {"status": 404, "title": "Not found"}})
            members = [t for t in self.teammates if t["id"] in team["members"]]
            return self._json(200, {"id": team["id"], "name": team["name"], "teammates": members})
        if path == "events":
            return self._events(request)
        if path == "conversations":
            wanted = request.url.params.get_list("q[statuses][]")
            rows = [
                self._public(c) for c in self.conversations.values() if not wanted or c["status"] in wanted
            ]
            return self._list(request, rows)
        if parts[0] == "conversations" and len(parts) in (2, 3):
            conv = self.conversations.get(parts[1])
            if conv is None or parts[1] in self.purged:
                return self._json(404, {"_error": {"status": 404, "title": "Not found"}})
            if len(parts) == 2:
                return self._json(200, self._public(conv))
            if parts[2] == "events":
                return self._list(
                    request, sorted(conv["_events"], key=lambda e: e["emitted_at"], reverse=True)
                )
        return self._json(404, {"_error": {"status": 404, "title": "Not found"}})

    @staticmethod
    def _public(conv: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in conv.items() if k != "_events"}

    def _limit(self, request: httpx.Request) -> int | None:
        limit = int(request.url.params.get("limit", 50))
        return limit if 1 <= limit <= 100 else None

    def _page(self, request: httpx.Request, rows: list[dict], start: int, token_of) -> httpx.Response:
        limit = self._limit(request)
        if limit is None:
            return self._json(400, {"_error": {"status": 400, "title": "Bad request", "message": "limit"}})
        chunk = rows[start : start + limit]
        nxt = None
        if start + limit < len(rows):
            query = [(k, v) for k, v in request.url.params.multi_items() if k != "page_token"]
            query.append(("page_token", token_of(chunk[-1], start + limit)))
            nxt = f"{self.base}{request.url.path}?{urlencode(query)}"
        body = {"_pagination": {"next": nxt}, "_links": {"self": str(request.url)}, "_results": chunk}
        return self._json(200, body)

    def _list(self, request: httpx.Request, rows: list[dict]) -> httpx.Response:
        token = request.url.params.get("page_token")
        start = _untoken(token)["offset"] if token else 0
        return self._page(request, rows, start, lambda _last, offset: _token({"offset": offset}))

    def _events(self, request: httpx.Request) -> httpx.Response:
        """Keyset paging on (emitted_at, id): stable while new events are appended."""
        params = request.url.params
        if params.get("sort_by", "created_at") != "created_at":
            return self._json(400, {"_error": {"status": 400, "title": "Bad request"}})
        rows = list(self.events)
        if params.get("q[after]") is not None:
            after = float(params["q[after]"])
            rows = [e for e in rows if e["emitted_at"] > after]
        if params.get("q[before]") is not None:
            before = float(params["q[before]"])
            rows = [e for e in rows if e["emitted_at"] < before]
        ascending = params.get("sort_order") == "asc"
        if not ascending:
            rows.reverse()
        start = 0
        token = params.get("page_token")
        if token:
            key = tuple(_untoken(token)["key"])
            later = (
                i
                for i, e in enumerate(rows)
                if ((e["emitted_at"], e["id"]) > key if ascending else (e["emitted_at"], e["id"]) < key)
            )
            start = next(later, len(rows))
        return self._page(
            request, rows, start, lambda last, _o: _token({"key": [last["emitted_at"], last["id"]]})
        )
