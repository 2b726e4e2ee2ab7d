"""A fake Freshdesk API v2 (an ``httpx.MockTransport`` handler) holding deterministic ground truth.

It speaks the real shapes: bare JSON arrays, the ``Link: <…>; rel="next"`` header, ``per_page``
max 100 (400 above), the ticket list's page cap (400 past it), tickets without ``updated_since``
limited to the last 30 days, ``filter=deleted``, Basic auth ``api_key:X`` (401 otherwise),
``X-RateLimit-*`` headers, FQL search (30 a page, 10 pages). ``faults`` maps a request number
(1-based, every request counts) to ``"429"``, ``"500"``, ``"timeout"``, ``"truncated"``,
``"duplicate"`` (the previous response of the same list served again) or ``"fatal"`` (a 400).
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
LADDER = (103, 102, 101, 100, -101, -102, -103)
SCORES = {103: 5, 102: 4, 101: 4, 100: 3, -101: 2, -102: 2, -103: 1}
CHANNEL = {1: "email", 2: "other", 3: "phone", 5: "social", 7: "chat", 9: "other", 10: "email"}


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeFreshdesk:
    def __init__(
        self,
        seed: int = 0,
        *,
        agents: int = 9,
        groups: int = 3,
        tickets: int = 180,
        domain: str = "acme",
        api_key: str = "fd-key-0123456789",
        page_cap: int = 300,
        group_agent_ids: bool = True,
        rate_total: int = 100_000,
        faults: dict[int, str] | None = None,
        retry_after: int = 7,
    ) -> None:
        self.rng = random.Random(seed)
        self.domain, self.api_key = domain, api_key
        self.base = f"https://{domain}.freshdesk.com"
        self.page_cap, self.group_agent_ids = page_cap, group_agent_ids
        self.rate_total, self.retry_after = rate_total, retry_after
        self.faults: dict[int, str] = dict(faults or {})
        self.now = NOW
        self.requests = 0
        self.served: Counter[str] = Counter()  # faults actually applied, by kind
        self.log: list[str] = []
        self.on_request: Callable[[FakeFreshdesk, httpx.Request], None] | None = None
        self._last: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.groups = [
            {"id": 43000000 + g, "name": f"Group {g}", "description": None, "created_at": _iso(NOW)}
            for g in range(groups)
        ]
        self.agents: list[dict[str, Any]] = []
        for a in range(agents):
            member_of = sorted(self.rng.sample([g["id"] for g in self.groups], self.rng.randint(0, 2)))
            since = NOW - timedelta(minutes=self.rng.randint(5, 600))
            zone = "Eastern Time (US & Canada)" if a == 0 else self.rng.choice(("UTC", "Europe/Lisbon"))
            self.agents.append(
                {
                    "id": 47000000 + a,
                    "available": self.rng.random() < 0.6,
                    "available_since": _iso(since) if a % 4 else None,
                    "occasional": False,
                    "type": "support_agent",
                    "group_ids": member_of,
                    "created_at": _iso(NOW - timedelta(days=400)),
                    "updated_at": _iso(NOW - timedelta(days=3)),
                    "contact": {
                        "active": a != agents - 1,
                        "email": f"agent{a}@acme.com",
                        "name": f"Agent {a}",
                        "time_zone": zone,
                    },
                }
            )
        self.tickets: dict[int, dict[str, Any]] = {}
        self.time_entries: dict[int, list[dict[str, Any]]] = {}
        self.ratings: list[dict[str, Any]] = []
        self._next_entry = 900000
        bulk = NOW - timedelta(days=9, minutes=17)  # a bulk update: many tickets, one second
        for n in range(tickets):
            self._new_ticket(updated=bulk if 40 <= n < 65 else None)
        # malformed on purpose: the connector must skip and count these, never abort
        first = min(self.tickets)
        self.tickets[first]["created_at"] = "31/02/2026 nonsense"
        self.ratings.append(
            {"id": 9999, "ticket_id": None, "ratings": {"default_question": 103}, "created_at": _iso(NOW)}
        )
        some = next(t for t in sorted(self.time_entries) if self.time_entries[t] and t != first)
        self.time_entries[some].append(self._entry(some, "1h20", NOW - timedelta(days=2)))
        for tid in self.rng.sample(sorted(self.tickets), 6):
            self.tickets[tid]["deleted"] = True

    # --- ground truth ------------------------------------------------------------------------

    def _new_ticket(self, updated: datetime | None = None) -> dict[str, Any]:
        tid = 385000 + len(self.tickets)
        rng = self.rng
        created = self.now - timedelta(days=60) + timedelta(minutes=rng.randint(0, 60 * 24 * 55))
        first = created + timedelta(minutes=rng.randint(1, 600)) if rng.random() < 0.8 else None
        solved = (first or created) + timedelta(hours=rng.randint(1, 48)) if rng.random() < 0.6 else None
        agent = rng.choice(self.agents)["id"] if rng.random() < 0.85 else None
        upd = updated or min(self.now, (solved or first or created) + timedelta(minutes=rng.randint(0, 90)))
        ticket = {
            "id": tid,
            "subject": f"Ticket {tid}",
            "status": 4 if solved else 2,
            "priority": rng.randint(1, 4),
            "source": rng.choice(list(CHANNEL)),
            "requester_id": 1000 + rng.randint(0, 50),
            "responder_id": agent,
            "group_id": rng.choice(self.groups)["id"] if rng.random() < 0.8 else None,
            "is_escalated": rng.random() < 0.1,
            "fr_escalated": False,
            "spam": False,
            "deleted": False,
            "created_at": _iso(created),
            "updated_at": _iso(upd),
            "stats": {
                "first_responded_at": _iso(first) if first else None,
                "resolved_at": _iso(solved) if solved else None,
                "closed_at": None,
                "reopened_at": _iso(created + timedelta(days=1)) if rng.random() < 0.05 else None,
            },
        }
        self.tickets[tid] = ticket
        entries = []
        if agent is not None and rng.random() < 0.6:
            for _ in range(rng.randint(1, 3)):
                minutes = rng.randint(1, 150)
                entries.append(self._entry(tid, f"{minutes // 60:02d}:{minutes % 60:02d}", created))
        self.time_entries[tid] = entries
        if agent is not None and rng.random() < 0.3:
            self.ratings.append(
                {
                    "id": 43006810000 + len(self.ratings),
                    "survey_id": 43000089898,
                    "user_id": ticket["requester_id"],
                    "agent_id": agent,
                    "group_id": ticket["group_id"],
                    "ticket_id": tid,
                    "feedback": "",
                    "ratings": {"default_question": rng.choice(LADDER)},
                    "created_at": _iso(max(created, self.now - timedelta(days=59))),
                    "updated_at": _iso(created),
                }
            )
        return ticket

    def _entry(self, tid: int, spent: str, start: datetime) -> dict[str, Any]:
        self._next_entry += 1
        agent = self.tickets[tid]["responder_id"] or self.agents[0]["id"]
        return {
            "id": self._next_entry,
            "ticket_id": tid,
            "agent_id": agent,
            "billable": True,
            "time_spent": spent,
            "executed_at": _iso(start),
            "start_time": _iso(start),
            "created_at": _iso(start),
            "updated_at": _iso(start),
        }

    def tick(self, minutes: int = 1) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    def add_tickets(self, n: int) -> list[int]:
        self.tick()
        return [self._new_ticket(updated=self.now)["id"] for _ in range(n)]

    def update_ticket(self, tid: int, **changes: Any) -> None:
        self.tickets[tid].update(changes, updated_at=_iso(self.tick()))

    def delete_ticket(self, tid: int) -> None:
        self.update_ticket(tid, deleted=True)

    def well_formed(self) -> dict[int, dict[str, Any]]:
        return {tid: t for tid, t in self.tickets.items() if "nonsense" not in t["created_at"]}

    def expected_contacts(self) -> dict[str, dict[str, Any]]:
        out = {}
        for tid, t in self.well_formed().items():
            spent = [_seconds(e["time_spent"]) for e in self.time_entries[tid]]
            valid = [s for s in spent if s is not None]
            out[str(tid)] = {
                "channel": CHANNEL[t["source"]],
                "agent": str(t["responder_id"]) if t["responder_id"] else None,
                "team": str(t["group_id"]) if t["group_id"] else None,
                "handle_seconds": None if t["deleted"] or not valid else sum(valid),
                "escalated": t["is_escalated"],
                "reopened": t["stats"]["reopened_at"] is not None,
                "deleted": t["deleted"],
            }
        return out

    def expected_segments(self) -> set[str]:
        return {
            f"te:{e['id']}"
            for tid, t in self.well_formed().items()
            if not t["deleted"]
            for e in self.time_entries[tid]
            if _seconds(e["time_spent"]) is not None
        }

    def expected_memberships(self) -> set[tuple[str, str]]:
        return {(str(g), str(a["id"])) for a in self.agents for g in a["group_ids"]}

    def expected_csat(self) -> dict[str, int]:
        return {
            str(r["id"]): SCORES[r["ratings"]["default_question"]] for r in self.ratings if r["ticket_id"]
        }

    # --- HTTP --------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        n = self.requests
        self.log.append(f"{request.url.path}?{request.url.query.decode()}")
        if self.on_request:
            self.on_request(self, request)
        expected = "Basic " + base64.b64encode(f"{self.api_key}:X".encode()).decode()
        if request.headers.get("authorization") != expected:
            return self._json(401, {"code": "invalid_credentials", "message": "You have to be logged in"})
        fault = self.faults.get(n)
        if fault and (
            fault != "duplicate" or f"{request.url.path}|{request.url.params.get('filter', '')}" in self._last
        ):
            self.served[fault] += 1
        key = f"{request.url.path}|{request.url.params.get('filter', '')}"
        if fault == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if fault == "429":
            return self._json(429, {"message": "rate limited"}, {"Retry-After": str(self.retry_after)})
        if fault == "500":
            return self._json(500, {"message": "oops"})
        if fault == "fatal":
            return self._json(400, {"description": "Validation failed", "errors": [{"code": "fatal"}]})
        if fault == "duplicate" and key in self._last:
            status, body, headers = self._last[key]
            return httpx.Response(status, content=body, headers=headers)
        response = self._route(request)
        if response.status_code == 200:
            self._last[key] = (200, response.content, dict(response.headers))
        if fault == "truncated":
            return httpx.Response(200, content=response.content[: len(response.content) // 2], headers={})
        return response

    def _headers(self, extra: dict[str, str] | None = None, cost: int = 1) -> dict[str, str]:
        remaining = self.rate_total - ((self.requests - 1) % self.rate_total) - 1
        return {
            "X-RateLimit-Total": str(self.rate_total),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used-CurrentRequest": str(cost),
            **(extra or {}),
        }

    def _json(
        self, status: int, body: Any, extra: dict[str, str] | None = None, cost: int = 1
    ) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers=self._headers(extra, cost))

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v2/")
        params = request.url.params
        if path == "groups":
            rows = [
                {**g, "agent_ids": self._members(g["id"])} if self.group_agent_ids else g for g in self.groups
            ]
            return self._paged(request, rows)
        if path == "agents":
            return self._paged(request, self.agents)
        if path == "tickets":
            return self._tickets(request)
        if path.startswith("tickets/") and path.endswith("/time_entries"):
            tid = int(path.split("/")[1])
            if tid not in self.tickets or self.tickets[tid]["deleted"]:
                return self._json(404, {"code": "access_denied"})
            return self._paged(request, self.time_entries[tid])
        if path == "surveys/satisfaction_ratings":
            since = params.get("created_since")
            rows = [r for r in self.ratings if since is None or r["created_at"] >= since]
            return self._paged(request, rows)
        if path == "search/tickets":
            return self._search(request)
        return self._json(404, {"code": "not_found"})

    def _members(self, gid: int) -> list[int]:
        return [a["id"] for a in self.agents if gid in a["group_ids"]]

    def _tickets(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        deleted = params.get("filter") == "deleted"
        rows = [t for t in self.tickets.values() if t["deleted"] == deleted and not t["spam"]]
        since = params.get("updated_since")
        if since is None:
            cutoff = _iso(self.now - timedelta(days=30))
            rows = [t for t in rows if t["created_at"] >= cutoff]
        else:
            rows = [t for t in rows if t["updated_at"] >= since]
        if params.get("order_by") == "updated_at":
            rows.sort(key=lambda t: (t["updated_at"], t["id"]), reverse=params.get("order_type") != "asc")
        else:
            rows.sort(key=lambda t: (t["created_at"], t["id"]), reverse=True)
        if "stats" not in params.get("include", ""):
            rows = [{k: v for k, v in t.items() if k != "stats"} for t in rows]
        if not deleted:
            rows = [{k: v for k, v in t.items() if k != "deleted"} for t in rows]
        if int(params.get("page", 1)) > self.page_cap:
            return self._json(400, {"description": "Validation failed", "errors": [{"field": "page"}]})
        return self._paged(request, rows, cost=3 if params.get("include") else 1)

    def _paged(self, request: httpx.Request, rows: list[dict[str, Any]], cost: int = 1) -> httpx.Response:
        params = request.url.params
        per_page, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        if not 1 <= per_page <= 100 or page < 1:
            return self._json(400, {"description": "Validation failed", "errors": [{"field": "per_page"}]})
        chunk = rows[(page - 1) * per_page : page * per_page]
        extra = {}
        if len(rows) > page * per_page:
            query = {**dict(params), "page": str(page + 1)}
            extra["Link"] = f'<{self.base}{request.url.path}?{urlencode(query)}>; rel="next"'
        return self._json(200, chunk, extra, cost)

    def _search(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("query") != '"status:2 AND agent_id:null"':
            return self._json(400, {"description": "Validation failed"})
        page = int(request.url.params.get("page", 1))
        if page > 10:
            return self._json(400, {"description": "Validation failed", "errors": [{"field": "page"}]})
        rows = [
            t
            for t in self.tickets.values()
            if t["status"] == 2 and t["responder_id"] is None and not t["deleted"]
        ]
        rows.sort(key=lambda t: t["id"])
        return self._json(200, {"results": rows[(page - 1) * 30 : page * 30], "total": len(rows)})

    def expected_backlog(self) -> tuple[int, int]:
        rows = [
            t
            for t in self.tickets.values()
            if t["status"] == 2 and t["responder_id"] is None and not t["deleted"]
        ]
        valid = [t["created_at"] for t in rows[:300] if "nonsense" not in t["created_at"]]
        oldest = datetime.fromisoformat(min(valid)) if valid else None
        return len(rows), int((self.now - oldest).total_seconds()) if oldest else 0


def _seconds(spent: str) -> int | None:
    hours, _, minutes = spent.partition(":")
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    return int(hours) * 3600 + int(minutes) * 60
