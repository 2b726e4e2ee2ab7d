"""A faithful fake of the Help Scout Mailbox API 2.0 (helpdesk reference section 4), a MockTransport handler.

Speaks the real envelopes: OAuth2 client credentials at ``POST /v2/oauth2/token`` (form body,
``{"token_type":"bearer","access_token":…,"expires_in":…}``; tokens expire on the fake's clock),
HAL lists (``_embedded.{users|teams|conversations}``, ``_links.self/next/first/last``, ``page``
block; 25 conversations per page, 50 elsewhere, ``page`` ignored beyond the last page), the
conversation filters ``status`` (default ``active``; ``all``), ``modifiedSince`` (inclusive, on an
internal ``modifiedAt`` that is not in the body, as in the real API) with ``sortField=modifiedAt``,
``embed=threads``, the ratings report (``results``/``page``/``pages``/``count``; 403 without a
reports plan), and ``X-RateLimit-Limit-Minute`` / ``X-RateLimit-Remaining-Minute`` headers
(``X-RateLimit-Retry-After`` on 429). Purged conversations vanish; trashed ones show ``state:
"deleted"`` with a new modifiedAt.

Faults: ``faults`` maps a request number (1-based, every request counts: token, retries) to
``"429"``, ``"500"``, ``"timeout"`` (raises ``httpx.ReadTimeout``), ``"truncated"`` (half a
body), ``"duplicate"`` (a request for another page of the listing served last is answered with
that last page again), ``"expire_token"`` (every issued token is revoked before the request is
served) or ``"crash"`` (raises :class:`FakeCrash`, which nothing retries).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

T0 = int(datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp())
FAULTS = ("429", "500", "timeout", "truncated", "duplicate", "expire_token")
RETRY_AFTER = 7
RATING_WORDS = ("great", "okay", "not good")
ZONES = ("Europe/Paris", "America/New_York", "UTC", "Mars/Olympus_Mons")


class FakeCrash(RuntimeError):
    """A non-retryable failure in the middle of a stream (the process 'dies')."""


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


class HelpScoutFake:
    def __init__(
        self,
        seed: int = 1,
        *,
        agents: int = 55,
        teams: int = 3,
        conversations: int = 120,
        deleted: int = 4,
        malformed: bool = True,
        app_id: str = "hs-app-id",
        app_secret: str = "hs-app-secret-123",
        token_ttl: int = 172800,
        reports: bool = True,
        ratings_page: int = 4,
        faults: dict[int, str] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.app_id, self.app_secret, self.token_ttl = app_id, app_secret, token_ttl
        self.reports, self.ratings_page = reports, ratings_page
        self.faults = dict(faults or {})
        self.now = T0 + 10 * 86400
        self.requests = 0
        self.log: list[str] = []  # "METHOD url" of every request
        self.tokens: dict[str, int] = {}  # token -> expiry (fake clock)
        self.issued = 0
        self._last_get: httpx.Response | None = None
        self.users = {
            str(256 + a): {
                "id": 256 + a,
                "firstName": f"Ana{a}",
                "lastName": "Lee",
                "email": f"agent{a}@acme.test",
                "role": "user" if a else "owner",
                "timezone": ZONES[a % len(ZONES)],
                "type": "user",
                "createdAt": iso(T0 - 86400 * 90),
                "updatedAt": iso(T0 - 86400),
                "jobTitle": None,
                "photoUrl": None,
            }
            for a in range(agents)
        }
        self.teams = {str(900 + t): {"id": 900 + t, "name": f"Tier {t + 1}"} for t in range(teams)}
        self.members = {
            tid: sorted(self.rng.sample(sorted(self.users), min(len(self.users), 20))) for tid in self.teams
        }
        self.convs: dict[int, dict[str, Any]] = {}  # internal key -> served body
        self.modified: dict[int, int] = {}  # internal key -> modifiedAt (not served)
        self.ratings: dict[int, dict[str, Any]] = {}
        self.malformed: set[int] = set()
        self._next = 1
        for _ in range(conversations):
            self.add_conversation()
        for key in self.rng.sample(sorted(self.convs), deleted):
            self.purge(key)
        if malformed:
            bad = self.add_conversation()
            self.convs[bad]["createdAt"] = "yesterday"
            no_id = self.add_conversation()
            self.convs[no_id]["id"] = None
            self.ratings.pop(bad, None), self.ratings.pop(no_id, None)
            self.malformed = {bad, no_id}

    # --- ground truth and mutation --------------------------------------------------------------

    def add_conversation(self, when: int | None = None) -> int:
        key, rng = self._next, self.rng
        self._next += 1
        created = when if when is not None else T0 + rng.randint(0, 8 * 86400)
        status = rng.choice(["active", "active", "pending", "closed", "closed", "closed", "spam"])
        roll = rng.random()
        user = rng.choice(sorted(self.users))
        assignee = None
        if roll < 0.7:
            u = self.users[user]
            assignee = {
                "id": u["id"],
                "first": u["firstName"],
                "last": u["lastName"],
                "email": u["email"],
                "type": "user",
            }
        elif roll < 0.8:
            team = rng.choice(sorted(self.teams))
            assignee = {"id": int(team), "first": self.teams[team]["name"], "last": "", "type": "team"}
        customer = {
            "id": 9000 + key,
            "type": "customer",
            "first": "C",
            "last": str(key),
            "email": f"c{key}@x.test",
        }
        threads = [self._thread(key * 10, "customer", customer, created)]
        agent_times: list[int] = []
        if assignee and assignee["type"] == "user" and rng.random() < 0.85:
            at = created + rng.randint(60, 7200)
            threads.append(self._thread(key * 10 + 1, "message", {**assignee}, at))
            agent_times.append(at)
            if rng.random() < 0.5:
                threads.append(self._thread(key * 10 + 2, "note", {**assignee}, at + 30))
        last_customer = created
        if rng.random() < 0.3:
            last_customer = max(t["_at"] for t in threads) + rng.randint(60, 3600)
            threads.append(self._thread(key * 10 + 3, "customer", customer, last_customer))
        closed = max(t["_at"] for t in threads) + rng.randint(60, 3600) if status == "closed" else None
        for t in threads:
            t.pop("_at")
        user_updated = max([*agent_times, closed or 0]) or created
        conv = {
            "id": 100000 + key,
            "number": 4000 + key,
            "threads": len(threads),
            "type": rng.choice(["email", "email", "chat", "phone"]),
            "folderId": 1,
            "status": status,
            "state": "published",
            "subject": f"Question {key}",
            "preview": "Hi…",
            "mailboxId": rng.choice([85, 86]),
            "createdBy": customer,
            "createdAt": iso(created),
            "userUpdatedAt": iso(user_updated),
            "customerWaitingSince": {
                "time": iso(last_customer),
                "friendly": "",
                "latestReplyFrom": "customer",
            },
            "source": {"type": "email", "via": "customer"},
            "tags": [],
            "cc": [],
            "bcc": [],
            "primaryCustomer": customer,
            "customFields": [],
            "_embedded": {"threads": threads},
            "_links": {"mailbox": {"href": "https://api.helpscout.net/v2/mailboxes/85"}},
        }
        if assignee:
            conv["assignee"] = assignee
        if closed:
            conv.update(closedAt=iso(closed), closedBy=assignee["id"] if assignee else 1)
            if assignee and assignee["type"] == "user" and rng.random() < 0.5:
                self.ratings[key] = {
                    "number": conv["number"],
                    "id": conv["id"],
                    "rating": rng.choice(RATING_WORDS),
                    "ratingComments": "",
                    "ratingCreatedAt": iso(closed + 120),
                    "ratingUserId": assignee["id"],
                    "ratingCustomerId": customer["id"],
                }
        self.convs[key] = conv
        # system events (workflows, line items) move modifiedAt past everything the body shows
        self.modified[key] = max(created, user_updated, last_customer, closed or 0) + rng.randint(0, 900)
        return key

    @staticmethod
    def _thread(tid: int, kind: str, by: dict[str, Any], at: int) -> dict[str, Any]:
        return {
            "id": tid,
            "type": kind,
            "status": "active",
            "state": "published",
            "body": "…",
            "source": {"type": "email", "via": "customer" if kind == "customer" else "user"},
            "createdBy": {**by, "type": by.get("type", "user")},
            "createdAt": iso(at),
            "_at": at,
        }

    def reply(self, key: int, at: int) -> None:
        """An agent closes the conversation with a reply at ``at``."""
        conv = self.convs[key]
        by = conv.get("assignee") if (conv.get("assignee") or {}).get("type") == "user" else None
        by = by or {**self.users[sorted(self.users)[0]], "type": "user"}
        conv["_embedded"]["threads"].append(self._thread(key * 10 + 7, "message", by, at))
        conv["_embedded"]["threads"][-1].pop("_at")
        conv.update(status="closed", closedAt=iso(at), userUpdatedAt=iso(at), threads=conv["threads"] + 1)
        self.modified[key] = at

    def purge(self, key: int) -> None:
        """Gone for good: the conversation drops out of every list."""
        self.convs.pop(key)
        self.modified.pop(key)
        self.ratings.pop(key, None)

    def trash(self, key: int, at: int) -> None:
        self.convs[key]["state"] = "deleted"
        self.modified[key] = at

    def live(self) -> dict[int, dict[str, Any]]:
        """Well-formed, published conversations: what a full sync must store."""
        return {k: c for k, c in self.convs.items() if k not in self.malformed and c["state"] == "published"}

    def queue(self) -> tuple[int, int]:
        waits = [
            self.now - unix(c["customerWaitingSince"]["time"])
            for k, c in self.convs.items()
            if c["status"] == "active" and not c.get("assignee") and c["state"] == "published"
        ]
        return len(waits), max(waits, default=0)

    # --- HTTP -----------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        number = self.requests
        self.log.append(f"{request.method} {request.url}")
        fault = self.faults.get(number)
        if fault == "crash":
            raise FakeCrash(f"fake help scout died at request {number}")
        if fault == "timeout":
            raise httpx.ReadTimeout("fake read timeout", request=request)
        if fault == "429":
            return self._respond(429, {"error": "Too Many Requests"}, retry_after=True)
        if fault == "500":
            return self._respond(500, {"error": "Internal Server Error"})
        if fault == "expire_token":
            self.tokens.clear()
        if fault == "duplicate" and self._continues(request):
            return self._last_get
        if request.method == "POST" and request.url.path == "/v2/oauth2/token":
            status, body = self._token(request)
        elif self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "), 0) <= self.now:
            status, body = 401, {"error": "invalid_token", "error_description": "Invalid or expired token"}
        else:
            status, body = self._route(request)
        response = self._respond(status, body)
        if fault == "truncated":
            raw = response.content
            return httpx.Response(status, headers=response.headers, content=raw[: len(raw) // 2])
        if request.method == "GET" and status == 200:
            self._last_get = response
        return response

    def _continues(self, request: httpx.Request) -> bool:
        """A GET for another page of the listing served last: where a replayed page can happen."""
        last = self._last_get.request if self._last_get is not None else None
        if request.method != "GET" or last is None or last.url.path != request.url.path:
            return False

        def listing(url: httpx.URL) -> list[tuple[str, str]]:
            return sorted((k, v) for k, v in url.params.multi_items() if k not in ("page", "modifiedSince"))

        return last.url != request.url and listing(last.url) == listing(request.url)

    def _respond(self, status: int, body: Any, *, retry_after: bool = False) -> httpx.Response:
        remaining = 0 if retry_after else 399 - self.requests % 300
        headers = {"X-RateLimit-Limit-Minute": "400", "X-RateLimit-Remaining-Minute": str(remaining)}
        if retry_after:
            headers["X-RateLimit-Retry-After"] = str(RETRY_AFTER)
        return httpx.Response(status, headers=headers, content=json.dumps(body).encode())

    def _token(self, request: httpx.Request) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (self.app_id, self.app_secret):
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
        self.issued += 1
        token = f"hs-token-{self.issued}"
        self.tokens[token] = self.now + self.token_ttl
        return 200, {"token_type": "bearer", "access_token": token, "expires_in": self.token_ttl}

    def _route(self, request: httpx.Request) -> tuple[int, Any]:
        path, q = request.url.path.rstrip("/"), request.url.params
        if request.method != "GET":
            return 405, {"error": "Method Not Allowed"}
        if path == "/v2/users":
            return 200, self._hal(request, "users", list(self.users.values()), 50)
        if path == "/v2/teams":
            return 200, self._hal(request, "teams", list(self.teams.values()), 50)
        if path.startswith("/v2/teams/") and path.endswith("/members"):
            tid = path.split("/")[3]
            if tid not in self.teams:
                return 404, {"error": "Not Found"}
            return 200, self._hal(request, "users", [self.users[u] for u in self.members[tid]], 50)
        if path == "/v2/conversations":
            return 200, self._conversations(request)
        if path == "/v2/reports/user/ratings":
            if not self.reports:
                return 403, {"error": "Forbidden", "message": "Reports require a Plus or Pro plan"}
            start, end, user = unix(q["start"]), unix(q["end"]), int(q["user"])
            hits = sorted(
                (
                    r
                    for r in self.ratings.values()
                    if r["ratingUserId"] == user and start <= unix(r["ratingCreatedAt"]) <= end
                ),
                key=lambda r: r["id"],
            )
            page, size = int(q.get("page", 1)), self.ratings_page
            pages = max(1, -(-len(hits) // size))
            return 200, {
                "results": hits[(page - 1) * size : page * size],
                "page": page,
                "pages": pages,
                "count": len(hits),
            }
        return 404, {"error": "Not Found"}

    def _conversations(self, request: httpx.Request) -> dict[str, Any]:
        q = request.url.params
        status = q.get("status", "active")
        since = unix(q["modifiedSince"]) if "modifiedSince" in q else None
        keys = [
            k
            for k, c in self.convs.items()
            if (status == "all" or c["status"] == status)
            and (since is None or self.modified[k] >= since)
            and (status == "all" or c["state"] == "published")
        ]
        if q.get("sortField") == "modifiedAt":
            keys.sort(key=lambda k: (self.modified[k], k), reverse=q.get("sortOrder") == "desc")
        else:
            keys.sort(
                key=lambda k: (unix(self.convs[k]["createdAt"]) if k not in self.malformed else 0, k),
                reverse=True,
            )
        items = []
        for k in keys:
            conv = json.loads(json.dumps(self.convs[k]))
            if q.get("embed") != "threads":
                conv.pop("_embedded")
            items.append(conv)
        return self._hal(request, "conversations", items, 25)

    @staticmethod
    def _hal(request: httpx.Request, key: str, items: list[Any], size: int) -> dict[str, Any]:
        url = request.url
        page = max(1, int(url.params.get("page", 1)))
        pages = max(1, -(-len(items) // size))
        base = f"{url.scheme}://{url.netloc.decode()}{url.path}"
        query = [(k, v) for k, v in url.params.multi_items() if k != "page"]

        def href(n: int) -> dict[str, str]:
            return {"href": f"{base}?{urlencode([*query, ('page', n)])}"}

        links: dict[str, Any] = {"self": href(page), "first": href(1), "last": href(pages)}
        links["page"] = {"href": f"{base}{{?page}}", "templated": True}
        if page < pages:
            links["next"] = href(page + 1)
        chunk = items[(page - 1) * size : page * size]
        return {
            "_embedded": {key: chunk},
            "_links": links,
            "page": {"size": size, "totalElements": len(items), "totalPages": pages, "number": page},
        }
