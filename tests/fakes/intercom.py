"""A faithful fake of the Intercom REST API (section 3 of the helpdesk reference) as a MockTransport handler.

Speaks the real envelopes: ``admin.list`` / ``team.list``, ``POST /conversations/search`` with
``pages.next.starting_after`` (an opaque base64 keyset token) and ``per_page`` <= 150, and
``activity_log.list`` whose ``pages.next`` is a URL. Unix-int timestamps, Bearer auth (401 with
an ``error.list`` otherwise), a required ``Intercom-Version`` header, and ``X-RateLimit-*`` headers.
Deleted conversations vanish (no tombstones), as in the real API.

Faults: ``faults`` maps a request number (1-based, counting every request) to one of
``"429"``, ``"500"``, ``"timeout"``, ``"truncated"``, ``"duplicate"`` (serve the previous
response again) or ``"crash"`` (raise :class:`FakeCrash`, which nothing retries).
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

T0 = int(datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp())
SOURCE_TYPES = ("conversation", "email", "phone_call", "whatsapp", "twitter", "push")
FAULTS = ("429", "500", "timeout", "truncated", "duplicate")


class FakeCrash(RuntimeError):
    """A non-retryable failure in the middle of a stream (the process 'dies')."""


def _token(key: tuple[int, int]) -> str:
    return base64.b64encode(json.dumps([key[0] * 1000, key[1]]).encode()).decode()


def _untoken(token: str) -> tuple[int, int]:
    ms, ident = json.loads(base64.b64decode(token))
    return ms // 1000, ident


@dataclass
class IntercomFake:
    seed: int = 1
    agents: int = 6
    teams: int = 3
    conversations: int = 400
    deleted: int = 5
    malformed: bool = True
    token: str = "tok-intercom-secret"
    per_page_default: int = 20
    faults: dict[int, str] = field(default_factory=dict)
    retry_after: int = 7
    requests: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.team_list = [
            {"type": "team", "id": str(9000 + t), "name": f"Tier {t + 1}"} for t in range(self.teams)
        ]
        self.admin_list: list[dict] = []
        for a in range(self.agents):
            teams = sorted(self.rng.sample([t["id"] for t in self.team_list], self.rng.randint(0, 2)))
            self.admin_list.append(
                {
                    "type": "admin",
                    "id": str(100 + a),
                    "name": f"Admin {a}",
                    "email": f"admin{a}@example.com",
                    "job_title": None,
                    "away_mode_enabled": a % 3 == 0,
                    "away_mode_reassign": False,
                    "has_inbox_seat": a != self.agents - 1,
                    "team_ids": [int(t) for t in teams],
                    "avatar": {"image_url": None},
                }
            )
        self.convs: dict[str, dict] = {}
        self._next_id = 1
        for _ in range(self.conversations):
            self.add_conversation()
        for cid in self.rng.sample(sorted(self.convs), self.deleted):
            self.delete(cid)
        self.malformed_keys: set[str] = set()
        if self.malformed:  # served by search, never part of the ground truth
            bad_time = {**self.add_conversation(), "created_at": "yesterday"}
            self.convs[bad_time["id"]] = bad_time
            no_id = {**self.add_conversation(), "id": None}
            self.convs.pop(str(self._next_id - 1))
            self.convs["no-id"] = no_id
            self.malformed_keys = {bad_time["id"], "no-id"}
        self.activity: list[dict] = []
        for n in range(self.agents * 6):
            admin = self.admin_list[n % self.agents]
            self.activity.append(
                {
                    "id": str(n + 1),
                    "performed_by": {
                        "type": "admin",
                        "id": admin["id"],
                        "email": admin["email"],
                        "ip": "127.0.0.1",
                    },
                    "metadata": {"away_mode": bool((n // self.agents) % 2), "reassign_conversations": False},
                    "created_at": T0 + n * 3600 + self.rng.randint(0, 600),
                    "activity_type": "admin_away_mode_change",
                    "activity_description": "changed away mode",
                }
            )
            if n % 5 == 0:  # noise the connector must ignore
                self.activity.append(
                    {**self.activity[-1], "id": f"x{n}", "activity_type": "admin_login_success"}
                )
        self.now = T0 + 10 * 86400
        self._last: httpx.Response | None = None

    # --- ground truth and mutation ----------------------------------------------------------

    def add_conversation(self, when: int | None = None) -> dict:
        cid = str(self._next_id)
        self._next_id += 1
        rng = self.rng
        created = when if when is not None else T0 + rng.randint(0, 8 * 86400)
        closed = rng.random() < 0.7
        rated = closed and rng.random() < 0.4
        admin = rng.choice([None, *[a["id"] for a in self.admin_list]])
        stats = {
            "type": "conversation_statistics",
            "time_to_admin_reply": rng.randint(30, 3000),
            "first_admin_reply_at": created + rng.randint(30, 3000),
            "last_close_at": created + 7200 if closed else None,
            "count_reopens": rng.choice([0, 0, 0, 1]),
            "count_assignments": 1,
            "handling_time": rng.randint(600, 7200),
            "adjusted_handling_time": rng.randint(60, 1800),
        }
        conv = {
            "type": "conversation",
            "id": cid,
            "title": None,
            "created_at": created,
            "updated_at": created + rng.randint(0, 3) * 1800,  # shared seconds across conversations
            "waiting_since": None if closed else created + 60,
            "open": not closed,
            "state": "closed" if closed else "open",
            "priority": "not_priority",
            "admin_assignee_id": int(admin) if admin else None,
            "team_assignee_id": int(rng.choice(self.team_list)["id"]) if rng.random() < 0.8 else None,
            "source": {
                "type": rng.choice(SOURCE_TYPES),
                "id": f"s{cid}",
                "author": {"type": "user", "id": "u1"},
            },
            "conversation_rating": {
                "rating": rng.randint(1, 5),
                "remark": None,
                "created_at": created + 7300,
                "teammate": {"type": "admin", "id": int(admin) if admin else 100},
            }
            if rated
            else None,
            "statistics": stats,
        }
        self.convs[cid] = conv
        return conv

    def update_conversation(self, cid: str, at: int) -> dict:
        conv = self.convs[cid]
        conv["updated_at"] = at
        conv["state"], conv["open"] = "closed", False
        conv["statistics"]["adjusted_handling_time"] = 4242
        conv["statistics"]["last_close_at"] = at
        conv["waiting_since"] = None
        return conv

    def delete(self, cid: str) -> None:
        self.convs.pop(cid)

    def live(self) -> list[dict]:
        """The well-formed conversations that exist now: what a full sync must store."""
        return sorted(
            (c for k, c in self.convs.items() if k not in self.malformed_keys), key=lambda c: int(c["id"])
        )

    def queue(self, now: int) -> tuple[int, int]:
        waits = [
            now - c["waiting_since"]
            for c in self.convs.values()  # the backlog counts what has an id, even if otherwise malformed
            if c["id"] is not None
            and c["state"] == "open"
            and not c["admin_assignee_id"]
            and c["waiting_since"] is not None
        ]
        return len(waits), max(waits, default=0)

    def memberships(self) -> set[tuple[str, str]]:
        return {(str(t), a["id"]) for a in self.admin_list for t in a["team_ids"]}

    def status_intervals(self, start: int) -> dict[str, tuple[str, str, int, int]]:
        """Closed away-mode intervals from changes at or after ``start``, keyed like the connector."""
        out, last = {}, {}
        changes = sorted(
            (e["created_at"], e["id"], e["performed_by"]["id"], e["metadata"]["away_mode"])
            for e in self.activity
            if e["activity_type"] == "admin_away_mode_change" and start <= e["created_at"] < self.now
        )
        for at, _, admin, away in changes:
            if admin in last and last[admin][1] < at:
                status, since = last[admin]
                out[f"{admin}:{since}"] = (admin, status, since, at)
            last[admin] = ("away" if away else "available", at)
        return out

    # --- HTTP -------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        number = self.requests
        self.log.append(f"{request.method} {request.url.path}")
        fault = self.faults.get(number)
        if fault == "crash":
            raise FakeCrash(f"fake intercom died at request {number}")
        if fault == "timeout":
            raise httpx.ReadTimeout("fake read timeout", request=request)
        if fault == "429":
            return self._respond(
                429, self._error("rate_limit_exceeded"), {"Retry-After": str(self.retry_after)}
            )
        if fault == "500":
            return self._respond(500, self._error("server_error"))
        if fault == "duplicate" and self._last is not None and self._continues(request):
            return self._last  # the previous page of this listing, served again
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._respond(401, self._error("unauthorized", "Access Token Invalid"))
        version = request.headers.get("intercom-version", "")
        if not version:
            return self._respond(400, self._error("intercom_version_invalid"))
        try:
            status, body = self._route(request, version)
        except (KeyError, ValueError) as exc:
            status, body = 400, self._error("parameter_invalid", str(exc))
        response = self._respond(status, body)
        response.request = request
        if fault == "truncated":
            raw = response.content
            return httpx.Response(200, headers=response.headers, content=raw[: len(raw) // 2])
        self._last = response
        return response

    def _continues(self, request: httpx.Request) -> bool:
        """A next-page request of the listing that was served last (duplicates only happen there)."""
        last = self._last.request if self._last is not None else None
        if last is None or (last.method, last.url.path) != (request.method, request.url.path):
            return False
        if request.method == "POST":
            return bool((json.loads(request.content).get("pagination") or {}).get("starting_after"))
        return "page" in request.url.params or "starting_after" in request.url.params

    def _respond(self, status: int, body: Any, extra: dict[str, str] | None = None) -> httpx.Response:
        headers = {
            "X-RateLimit-Limit": "10000",
            "X-RateLimit-Remaining": str(max(0, 10000 - self.requests)),
            "X-RateLimit-Reset": str(self.now + 10),
            **(extra or {}),
        }
        return httpx.Response(status, json=body, headers=headers)

    @staticmethod
    def _error(code: str, message: str = "") -> dict:
        return {"type": "error.list", "request_id": None, "errors": [{"code": code, "message": message}]}

    def _route(self, request: httpx.Request, version: str) -> tuple[int, Any]:
        path, method = request.url.path, request.method
        if method == "GET" and path == "/admins":
            return 200, {"type": "admin.list", "admins": self.admin_list}
        if method == "GET" and path == "/teams":
            teams = [
                {**t, "admin_ids": [int(a["id"]) for a in self.admin_list if int(t["id"]) in a["team_ids"]]}
                for t in self.team_list
            ]
            return 200, {"type": "team.list", "teams": teams}
        if method == "GET" and path == "/admins/activity_logs":
            return 200, self._activity(request)
        if method == "POST" and path == "/conversations/search":
            return 200, self._search(json.loads(request.content), version)
        return 404, self._error("not_found")

    def _activity(self, request: httpx.Request) -> dict:
        q = request.url.params
        after, before = int(q["created_at_after"]), int(q.get("created_at_before", self.now))
        per_page = 20
        page = int(q.get("page", 1))
        items = sorted(
            (e for e in self.activity if after < e["created_at"] < before),
            key=lambda e: (-e["created_at"], e["id"]),  # newest first
        )
        pages = max(1, -(-len(items) // per_page))
        nxt = None
        if page < pages:
            nxt = "https://api.intercom.io/admins/activity_logs?" + urlencode(
                {"created_at_after": after, "created_at_before": before, "page": page + 1}
            )
        return {
            "type": "activity_log.list",
            "pages": {"type": "pages", "next": nxt, "page": page, "per_page": per_page, "total_pages": pages},
            "activity_logs": items[(page - 1) * per_page : page * per_page],
        }

    def _match(self, conv: dict, query: dict) -> bool:
        if "value" in query and isinstance(query["value"], list) and query.get("operator") in ("AND", "OR"):
            results = [self._match(conv, q) for q in query["value"]]
            return all(results) if query["operator"] == "AND" else any(results)
        value, want, op = conv.get(query["field"]), query["value"], query["operator"]
        ops = {"=": value == want, "!=": value != want}
        if op in ops:
            return ops[op]
        if op in (">", "<"):
            return value is not None and (value > want if op == ">" else value < want)
        raise ValueError(f"operator {op} not supported by the fake")

    def _search(self, body: dict, version: str) -> dict:
        pagination = body.get("pagination") or {}
        per_page = int(pagination.get("per_page", self.per_page_default))
        if not 1 <= per_page <= 150:
            raise ValueError("per_page must be between 1 and 150")
        sort = body.get("sort") or {"field": "updated_at", "order": "ascending"}
        field_ = sort["field"]
        hits = sorted(
            (c for c in self.convs.values() if self._match(c, body["query"])),
            key=lambda c: (c[field_], int(c["id"] or 0)),
        )
        start = 0
        if pagination.get("starting_after"):
            key = _untoken(pagination["starting_after"])
            start = next((i for i, c in enumerate(hits) if (c[field_], int(c["id"] or 0)) > key), len(hits))
        chunk = hits[start : start + per_page]
        total_pages = max(1, -(-len(hits) // per_page))
        pages: dict[str, Any] = {
            "type": "pages",
            "page": start // per_page + 1,
            "per_page": per_page,
            "total_pages": total_pages,
        }
        if start + per_page < len(hits):
            last = chunk[-1]
            pages["next"] = {
                "page": pages["page"] + 1,
                "starting_after": _token((last[field_], int(last["id"] or 0))),
            }
        convs = [json.loads(json.dumps(c)) for c in chunk]
        if tuple(int(x) for x in version.split(".") if x.isdigit()) < (
            2,
            14,
        ):  # handling_time statistics arrived in newer versions
            for c in convs:
                c["statistics"].pop("handling_time", None)
                c["statistics"].pop("adjusted_handling_time", None)
        return {"type": "conversation.list", "total_count": len(hits), "pages": pages, "conversations": convs}
