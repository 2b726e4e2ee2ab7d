"""A fake Zendesk Support + Talk API for ``httpx.MockTransport``, holding its own ground truth.

Envelopes follow helpdesk-apis.md section 1: cursor incremental exports (``after_cursor``,
``end_of_stream``; every third page is empty with ``end_of_stream: false``), offset ``next_page``
for groups, ``meta.has_more``/``links.next`` list cursors, Talk incremental with a ``next_page``
that is never null (the boundary record repeats), Basic auth ``{email}/token:{token}``, and
``X-Rate-Limit`` / ``ratelimit-*`` headers.

Faults: ``faults`` maps a request number (1-based, every request counts, retries too) to one of
``429`` (with ``Retry-After``), ``500``, ``timeout`` (raises ``httpx.ReadTimeout``), ``truncated``
(half a JSON body), ``duplicate`` (replays the previous body served for the same path) and
``fatal`` (HTTP 400, not retryable: the sync stops there).

Volume: ``bulk_tickets=N`` adds N read-only history tickets that are never stored, only built
page by page when the tickets export serves them (O(page) memory and time per request, so 200k
tickets cost nothing up front). Bulk ticket ``k`` (see :meth:`FakeZendesk.bulk_ticket`) has id
``BULK_ID0 + k`` and ``generated_timestamp`` one second after ticket ``k - 1``, all before the
regular ground truth; it has sideloaded metrics, is never deleted, and has no separate
satisfaction-rating record (its ``satisfaction_rating`` still rides on the ticket).
"""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from typing import Any

import httpx

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FAULTS = ("429", "500", "timeout", "truncated", "duplicate", "fatal")
RETRY_AFTER = 7
VIA = ["email", "web", "chat", "native_messaging", "twitter", "api", "voice"]
BULK_ID0 = 10_000_000


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _enc(*parts: Any) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def _dec(token: str) -> list[int]:
    return [int(p) for p in base64.urlsafe_b64decode(token.encode()).decode().split("|")]


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


class FakeZendesk:
    def __init__(
        self,
        seed: int = 0,
        *,
        agents: int = 8,
        teams: int = 3,
        tickets: int = 40,
        calls: int = 15,
        page_size: int = 7,
        subdomain: str = "acme",
        email: str = "admin@acme.test",
        token: str = "tok-secret-123",
        faults: dict[int, str] | None = None,
        bulk_tickets: int = 0,
    ) -> None:
        self.rng = random.Random(seed)
        self.base = f"https://{subdomain}.zendesk.com"
        self.auth = "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.page_size = page_size
        self.faults = dict(faults or {})
        self.requests = 0
        self.served: list[str] = []  # paths of answered requests
        self.clock = T0
        self._last_by_path: dict[str, bytes] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.memberships: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.metrics: dict[int, dict[str, Any]] = {}
        self.calls: dict[int, dict[str, Any]] = {}
        self.ratings: dict[int, dict[str, Any]] = {}
        self.activity: dict[int, dict[str, Any]] = {}
        self.malformed: set[str] = set()  # contact external ids the connector must skip
        self.queue = {
            "agents_online": 0,
            "calls_waiting": 3,
            "callbacks_waiting": 1,
            "embeddable_callbacks_waiting": 0,
            "average_wait_time": 35,
            "longest_wait_time": 80,
        }
        self._generate(agents, teams, tickets, calls)
        self.bulk_tickets = bulk_tickets
        self._bulk_t0 = T0 - 86400 - bulk_tickets  # the bulk history ends a day before T0
        self._bulk_agents = [*self.agent_ids(), None]
        self._bulk_groups = [*sorted(self.groups)[:-1], None]

    # --- ground truth --------------------------------------------------------------------------

    def tick(self, seconds: int = 61) -> int:
        self.clock += seconds
        return self.clock

    def _generate(self, n_agents: int, n_teams: int, n_tickets: int, n_calls: int) -> None:
        for i in range(n_teams + 1):
            gid = 900 + i
            self.groups[gid] = {
                "id": gid,
                "name": f"Tier {i + 1}",
                "description": "",
                "default": i == 0,
                "deleted": i == n_teams,
                "is_public": True,
                "created_at": iso(T0 - 86400),
                "updated_at": iso(T0 - 3600),
            }
        live_groups = [g for g, v in self.groups.items() if not v["deleted"]]
        for i in range(n_agents):
            self._user(
                100 + i, "admin" if i == 0 else "agent", active=i != n_agents - 1, suspended=i == n_agents - 2
            )
        for i in range(n_agents * 2):
            self._user(5000 + i, "end-user")
        mid = 1
        for uid, u in self.users.items():
            if u["role"] == "end-user":
                continue
            for gid in self.rng.sample(live_groups, self.rng.choice([1, 2])):
                self.memberships[mid] = {
                    "id": mid,
                    "user_id": uid,
                    "group_id": gid,
                    "default": False,
                    "created_at": iso(T0),
                    "updated_at": iso(T0),
                }
                mid += 1
        for _ in range(n_tickets):
            self.add_ticket()
        for tid in self.rng.sample(sorted(self.tickets), 3):
            self.delete_ticket(tid)
        bad = self.add_ticket()
        self.tickets[bad]["created_at"] = "not-a-date"
        self.malformed.add(f"ticket:{bad}")
        for i in range(n_calls):
            self.add_call()
            if i == n_calls // 2:  # mid-stream, so it is read exactly once per full sync
                bad = self.add_call()
                self.calls[bad].pop("id")
                self.malformed.add(f"call:{bad}")
        for uid in self.agent_ids():
            state = self.rng.choice(["online", "online", "away", "offline", "transfers_only"])
            call = self.rng.choice([None, "on_call", "wrap_up"]) if state == "online" else None
            self.activity[uid] = {
                "agent_id": uid,
                "name": self.users[uid]["name"],
                "avatar_url": None,
                "agent_state": state,
                "call_status": call,
                "via": "client",
                "forwarding_number": None,
                "available_time": 3600,
                "away_time": 600,
                "online_time": 4200,
                "calls_accepted": 3,
                "total_talk_time": 900,
            }
        self.queue["agents_online"] = sum(a["agent_state"] != "offline" for a in self.activity.values())

    def _user(self, uid: int, role: str, *, active: bool = True, suspended: bool = False) -> None:
        ts = self.tick()
        self.users[uid] = {
            "id": uid,
            "name": f"User {uid}",
            "email": f"u{uid}@acme.test",
            "role": role,
            "active": active,
            "suspended": suspended,
            "time_zone": "Lisbon",
            "iana_time_zone": "Europe/Lisbon",
            "created_at": iso(ts),
            "updated_at": iso(ts),
            "_ts": ts,
        }

    def agent_ids(self) -> list[int]:
        return [u for u, v in self.users.items() if v["role"] in ("agent", "admin") and v["active"]]

    def add_ticket(self) -> int:
        ts = self.tick()
        tid = 1 + max(self.tickets, default=35000)
        agent = self.rng.choice([*self.agent_ids(), None])
        score = self.rng.choice(["good", "bad", "offered", "unoffered"])
        self.tickets[tid] = {
            "id": tid,
            "created_at": iso(ts - 3000),
            "updated_at": iso(ts),
            "generated_timestamp": ts,
            "status": self.rng.choice(["new", "open", "pending", "solved"]),
            "priority": "normal",
            "type": "question",
            "subject": f"Ticket {tid}",
            "requester_id": 5000,
            "submitter_id": 5000,
            "assignee_id": agent,
            "group_id": self.rng.choice([*sorted(self.groups)[:-1], None]),
            "tags": [],
            "via": {"channel": self.rng.choice(VIA), "source": {"rel": None}},
            "satisfaction_rating": {"score": score, "id": tid * 10, "comment": ""},
            "_ts": ts,
        }
        self.metrics[tid] = {
            "id": tid + 7,
            "ticket_id": tid,
            "created_at": iso(ts - 3000),
            "updated_at": iso(ts),
            "group_stations": self.rng.choice([1, 1, 2]),
            "assignee_stations": 1,
            "reopens": self.rng.choice([0, 0, 1]),
            "replies": 2,
            "solved_at": iso(ts - 60),
            "reply_time_in_minutes": {"calendar": self.rng.randint(1, 90), "business": 5},
            "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        }
        if score in ("good", "bad"):
            rid = tid * 10
            self.ratings[rid] = {
                "id": rid,
                "assignee_id": agent,
                "group_id": None,
                "requester_id": 5000,
                "ticket_id": tid,
                "score": score,
                "reason": "",
                "comment": "",
                "created_at": iso(ts),
                "updated_at": iso(ts),
                "_ts": ts,
            }
        return tid

    def bulk_ticket(self, k: int) -> dict[str, Any]:
        """Bulk ticket ``k`` (0-based), built on demand; its metric set is under ``_metric``."""
        ts, tid = self._bulk_t0 + k, BULK_ID0 + k
        h = (k * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash: cheap, deterministic
        created, updated = iso(ts - 3000), iso(ts)
        return {
            "id": tid,
            "created_at": created,
            "updated_at": updated,
            "generated_timestamp": ts,
            "status": ("new", "open", "pending", "solved")[(h >> 8) % 4],
            "priority": "normal",
            "type": "question",
            "subject": f"Ticket {tid}",
            "requester_id": 5000,
            "submitter_id": 5000,
            "assignee_id": self._bulk_agents[(h >> 11) % len(self._bulk_agents)],
            "group_id": self._bulk_groups[(h >> 15) % len(self._bulk_groups)],
            "tags": [],
            "via": {"channel": VIA[(h >> 19) % len(VIA)], "source": {"rel": None}},
            "satisfaction_rating": {
                "score": ("good", "bad", "offered", "unoffered")[(h >> 23) % 4],
                "id": tid * 10,
                "comment": "",
            },
            "_ts": ts,
            "_metric": {
                "id": tid + 7,
                "ticket_id": tid,
                "created_at": created,
                "updated_at": updated,
                "group_stations": (1, 1, 2)[(h >> 25) % 3],
                "assignee_stations": 1,
                "reopens": (0, 0, 1)[(h >> 27) % 3],
                "replies": 2,
                "solved_at": iso(ts - 60),
                "reply_time_in_minutes": {"calendar": 1 + (h >> 3) % 90, "business": 5},
                "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
            },
        }

    def _bulk_after(self, ts: int, oid: int, per: int) -> tuple[list[dict[str, Any]], int]:
        """Up to ``per`` bulk tickets after position ``(ts, oid)``, and how many remain in all."""
        k = min(max(0, ts - self._bulk_t0), self.bulk_tickets)
        if k < self.bulk_tickets and (self._bulk_t0 + k, BULK_ID0 + k) <= (ts, oid):
            k += 1
        return [self.bulk_ticket(i) for i in range(k, min(k + per, self.bulk_tickets))], self.bulk_tickets - k

    def update_ticket(self, tid: int, **changes: Any) -> None:
        ts = self.tick()
        self.tickets[tid].update(changes, updated_at=iso(ts), generated_timestamp=ts, _ts=ts)

    def delete_ticket(self, tid: int) -> None:
        self.update_ticket(tid, status="deleted")

    def add_call(self) -> int:
        ts = self.tick()
        cid = 1 + max(self.calls, default=1000)
        talk, hold, wrap = self.rng.randint(60, 900), self.rng.randint(0, 120), self.rng.randint(0, 180)
        self.calls[cid] = {
            "id": cid,
            "created_at": iso(ts - 1200),
            "updated_at": iso(ts),
            "agent_id": self.rng.choice(self.agent_ids()),
            "customer_id": 5001,
            "ticket_id": None,
            "direction": "inbound",
            "completion_status": "completed",
            "duration": talk + hold + wrap + 20,
            "talk_time": talk,
            "hold_time": hold,
            "wrap_up_time": wrap,
            "wait_time": self.rng.randint(0, 90),
            "time_to_answer": 20,
            "ivr_destination_group_name": "Tier 1",
            "_ts": ts,
        }
        return cid

    def update_call(self, cid: int, **changes: Any) -> None:
        ts = self.tick()
        self.calls[cid].update(changes, updated_at=iso(ts), _ts=ts)

    # --- HTTP ----------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != self.auth:
            return httpx.Response(401, json={"error": "Couldn't authenticate you"})
        self.requests += 1
        fault = self.faults.get(self.requests)
        path = request.url.path.removesuffix(".json")
        if fault == "timeout":
            raise httpx.ReadTimeout("fake timeout", request=request)
        if fault == "429":
            return httpx.Response(
                429,
                headers={"Retry-After": str(RETRY_AFTER)},
                text="Number of allowed API requests per minute exceeded",
            )
        if fault == "500":
            return httpx.Response(500, text="Internal Server Error")
        if fault == "fatal":
            return httpx.Response(400, json={"error": "InvalidPaginationParameter"})
        if fault == "duplicate" and path in self._last_by_path:
            content = self._last_by_path[path]
        else:
            status, body = self._route(path, request.url.params)
            if status != 200:
                return httpx.Response(status, json=body)
            content = json.dumps(body).encode()
            self._last_by_path[path] = content
        self.served.append(path)
        if fault == "truncated":
            content = content[: len(content) // 2]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Rate-Limit": "700",
            "X-Rate-Limit-Remaining": str(700 - self.requests % 500),
        }
        if "incremental" not in path:
            headers.update({"ratelimit-limit": "700", "ratelimit-remaining": "650", "ratelimit-reset": "41"})
        return httpx.Response(200, content=content, headers=headers)

    def _route(self, path: str, q: httpx.QueryParams) -> tuple[int, dict[str, Any]]:
        routes = {
            "/api/v2/groups": self._groups,
            "/api/v2/group_memberships": lambda q: self._list_cursor(
                q, "group_memberships", self.memberships, "/api/v2/group_memberships"
            ),
            "/api/v2/incremental/users/cursor": lambda q: self._export(q, "users", self.users),
            "/api/v2/incremental/tickets/cursor": lambda q: self._export(q, "tickets", self.tickets),
            "/api/v2/satisfaction_ratings": lambda q: self._list_cursor(
                q, "satisfaction_ratings", self.ratings, "/api/v2/satisfaction_ratings"
            ),
            "/api/v2/channels/voice/stats/incremental/calls": self._calls,
            "/api/v2/channels/voice/stats/agents_activity": self._activity,
            "/api/v2/channels/voice/stats/current_queue_activity": lambda q: (
                200,
                {"current_queue_activity": dict(self.queue)},
            ),
        }
        if path not in routes:
            return 404, {"error": "InvalidEndpoint"}
        return routes[path](q)

    def _groups(self, q: httpx.QueryParams) -> tuple[int, dict[str, Any]]:
        page, per = int(q.get("page", 1)), int(q.get("per_page", 100))
        per = min(per, self.page_size)
        rows = [self.groups[g] for g in sorted(self.groups)]
        chunk = rows[(page - 1) * per : page * per]
        more = page * per < len(rows)
        nxt = f"{self.base}/api/v2/groups.json?page={page + 1}&per_page={per}" if more else None
        prev = f"{self.base}/api/v2/groups.json?page={page - 1}&per_page={per}" if page > 1 else None
        return 200, {"groups": chunk, "next_page": nxt, "previous_page": prev, "count": len(rows)}

    def _export(self, q: httpx.QueryParams, key: str, table: dict[int, dict[str, Any]]):
        """Cursor export: position (ts, id); every third page is empty with end_of_stream false."""
        if "cursor" in q:
            ts, oid, n = _dec(q["cursor"])
        elif "start_time" in q:
            ts, oid, n = int(q["start_time"]), -1, 0
        else:
            return 400, {"error": "start_time or cursor required"}
        per = min(int(q.get("per_page", 1000)), self.page_size)
        rows = sorted(
            (o for o in table.values() if (o["_ts"], o.get("id", 0)) > (ts, oid)),
            key=lambda o: (o["_ts"], o.get("id", 0)),
        )
        remaining = len(rows)
        if key == "tickets" and self.bulk_tickets and n % 3 != 2:  # bulk history precedes the rest
            bulk, left = self._bulk_after(ts, oid, per)
            rows, remaining = bulk + rows[: per - len(bulk)], remaining + left
        chunk = [] if n % 3 == 2 else rows[:per]
        if chunk:
            ts, oid = chunk[-1]["_ts"], chunk[-1].get("id", 0)
        end = n % 3 != 2 and remaining <= per
        after = _enc(ts, oid, n + 1)
        body: dict[str, Any] = {
            key: [_public(o) for o in chunk],
            "after_url": f"{self.base}/api/v2/incremental/{key}/cursor.json?cursor={after}",
            "after_cursor": after,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": end,
        }
        if key == "tickets" and "metric_sets" in q.get("include", ""):
            body["metric_sets"] = [
                o["_metric"] if "_metric" in o else self.metrics[o["id"]]
                for o in chunk
                if "_metric" in o or ("id" in o and o["id"] in self.metrics and o["status"] != "deleted")
            ]
        return 200, body

    def _list_cursor(self, q: httpx.QueryParams, key: str, table: dict[int, dict[str, Any]], path: str):
        """``page[size]`` cursor pagination with ``meta.has_more`` and ``links.next``."""
        per = min(int(q.get("page[size]", 100)), self.page_size)
        since = int(q.get("start_time", 0))
        ts, oid = _dec(q["page[after]"]) if "page[after]" in q else (since, -1)
        if "page[after]" not in q:
            ts, oid = (since - 1, 10**12) if since else (-1, -1)
        rows = sorted(
            (o for o in table.values() if (o.get("_ts", 0), o["id"]) > (ts, oid)),
            key=lambda o: (o.get("_ts", 0), o["id"]),
        )
        chunk = rows[:per]
        more = len(rows) > per
        after = _enc(chunk[-1].get("_ts", 0), chunk[-1]["id"]) if chunk else None
        extra = f"&start_time={since}" if since else ""
        nxt = f"{self.base}{path}.json?page[after]={after}&page[size]={per}{extra}" if more else None
        return 200, {
            key: [_public(o) for o in chunk],
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": None},
            "links": {"next": nxt, "prev": None},
        }

    def _calls(self, q: httpx.QueryParams) -> tuple[int, dict[str, Any]]:
        """Talk incremental: records with updated >= start_time; next_page always set."""
        if "start_time" not in q:
            return 400, {"error": "start_time is required"}
        start = int(q["start_time"])
        rows = sorted((c for c in self.calls.values() if c["_ts"] >= start), key=lambda c: c["_ts"])
        chunk = rows[: self.page_size]
        end = chunk[-1]["_ts"] if chunk else start
        nxt = f"{self.base}/api/v2/channels/voice/stats/incremental/calls.json?start_time={end}"
        return 200, {
            "calls": [_public(c) for c in chunk],
            "next_page": nxt,
            "count": len(chunk),
            "end_time": end,
        }

    def _activity(self, q: httpx.QueryParams) -> tuple[int, dict[str, Any]]:
        page = int(q.get("page", 1))
        rows = [self.activity[a] for a in sorted(self.activity)]
        chunk = rows[(page - 1) * self.page_size : page * self.page_size]
        base = f"{self.base}/api/v2/channels/voice/stats/agents_activity.json"
        return 200, {
            "agents_activity": chunk,
            "next_page": f"{base}?page={page + 1}",
            "previous_page": f"{base}?page={page - 1}" if page > 1 else None,
            "count": len(chunk),
        }
