"""The shared helpdesk HTTP client: retries, throttling, errors and redaction, without real time.

Each test serves a scripted sequence of responses through ``httpx.MockTransport`` and records
the sleeps the policy asks for on a fake clock, so nothing waits and every number is exact.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from email.utils import formatdate

import httpx
import pytest

from connectors.http import (
    HelpdeskAuthError,
    HelpdeskBadPage,
    HelpdeskError,
    HelpdeskHttp,
    QuotaHeaders,
    build_client,
    parse_retry_after,
    redact,
    safe_url,
)

BASE = "https://acme.zendesk.com/api/v2/"
AUTH_SETTINGS = "AX_ZENDESK_API_TOKEN / AX_ZENDESK_EMAIL"
WALL_START = 1_700_000_000.0

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic and a wall clock that only move when the code under test sleeps (or a handler says)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_START + self.now


class Script:
    """A MockTransport handler serving ``steps`` in order; an exception step is raised instead."""

    def __init__(self, steps: Sequence[Step], *, repeat_last: bool = False) -> None:
        self.steps = list(steps)
        self.repeat_last = repeat_last
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.steps):
            assert self.repeat_last, f"unexpected request #{index + 1}: {request.url}"
            index = len(self.steps) - 1
        step = self.steps[index]
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step


def ok(body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json={"tickets": []} if body is None else body, headers=headers)


def make_http(
    script: Script,
    clock: FakeTime,
    *,
    rand: Callable[[], float] = lambda: 0.5,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **policy: object,
) -> HelpdeskHttp:
    client = build_client(base_url=BASE, auth=auth, headers=headers, transport=httpx.MockTransport(script))
    return HelpdeskHttp(
        client,
        source="zendesk",
        auth_settings=AUTH_SETTINGS,
        sleep=clock.sleep,
        clock=clock.monotonic,
        wall_clock=clock.wall,
        random=rand,
        **policy,  # type: ignore[arg-type]
    )


def test_build_client_sets_base_url_and_json_accept() -> None:
    script = Script([ok({"id": 1})])
    client = build_client(base_url=BASE, headers={"X-Extra": "1"}, transport=httpx.MockTransport(script))
    client.get("tickets.json")
    sent = script.requests[0]
    assert str(sent.url) == "https://acme.zendesk.com/api/v2/tickets.json"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["x-extra"] == "1"
    assert "ax-dashboard" in sent.headers["user-agent"]


def test_429_waits_exactly_retry_after_seconds_then_succeeds() -> None:
    clock = FakeTime()
    script = Script(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, text="Number of allowed API requests exceeded"),
            ok({"tickets": [{"id": 1}]}),
        ]
    )
    data, response = make_http(script, clock).get_json("incremental/tickets/cursor.json", {"start_time": 0})
    assert data == {"tickets": [{"id": 1}]}
    assert response.status_code == 200
    assert clock.sleeps == [7.0]
    assert len(script.requests) == 2


def test_429_retry_after_as_http_date() -> None:
    clock = FakeTime()
    when = formatdate(WALL_START + 12, usegmt=True)
    script = Script([httpx.Response(429, headers={"Retry-After": when}), ok()])
    make_http(script, clock).get_json("tickets.json")
    assert clock.sleeps == [pytest.approx(12.0)]


def test_429_help_scout_retry_after_header_is_honoured() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(429, headers={"X-RateLimit-Retry-After": "9"}), ok()])
    make_http(script, clock).get_json("conversations")
    assert clock.sleeps == [9.0]


def test_429_without_retry_after_falls_back_to_backoff() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(429), httpx.Response(429, headers={"Retry-After": "soon"}), ok()])
    make_http(script, clock, rand=lambda: 0.5, backoff_base=2.0).get_json("tickets.json")
    assert clock.sleeps == [1.0, 2.0]  # 0.5 * 2, 0.5 * 4: an unparsable Retry-After counts as absent


def test_5xx_retried_with_growing_backoff() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(500), httpx.Response(502), ok({"done": True})])
    data, _ = make_http(script, clock, rand=lambda: 0.999).get_json("tickets.json")
    assert data == {"done": True}
    assert clock.sleeps == [pytest.approx(0.999), pytest.approx(1.998)]
    assert clock.sleeps[1] > clock.sleeps[0]


def test_backoff_is_capped() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(503)] * 6 + [ok()])
    make_http(script, clock, rand=lambda: 0.999, backoff_base=1.0, backoff_cap=4.0).get_json("x")
    assert clock.sleeps == pytest.approx([0.999, 1.998, 3.996, 3.996, 3.996, 3.996])
    assert max(clock.sleeps) < 4.0


def test_backoff_full_jitter_stays_within_bounds_and_follows_random() -> None:
    clock = FakeTime()
    rng = random.Random(42)
    draws = random.Random(42)  # the same stream, to prove the injected random is what scales each sleep
    script = Script([httpx.Response(500)] * 7 + [ok()])
    make_http(script, clock, rand=rng.random, backoff_base=1.0, backoff_cap=8.0).get_json("x")
    ceilings = [1, 2, 4, 8, 8, 8, 8]
    assert len(clock.sleeps) == len(ceilings)
    for sleep, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert 0 <= sleep <= ceiling
    assert clock.sleeps == pytest.approx([draws.random() * ceiling for ceiling in ceilings])
    assert len(set(clock.sleeps)) == len(clock.sleeps)  # jittered, not a fixed schedule


def test_timeouts_and_transport_errors_are_retried_then_succeed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ax.connectors.http")
    clock = FakeTime()
    script = Script([httpx.ReadTimeout("read timed out"), httpx.ConnectError("refused"), ok({"n": 3})])
    data, _ = make_http(script, clock).get_json("tickets.json")
    assert data == {"n": 3}
    assert len(clock.sleeps) == 2
    assert len(script.requests) == 3
    assert "ReadTimeout" in caplog.text and "ConnectError" in caplog.text
    assert all(r.levelno >= logging.INFO for r in caplog.records if r.name == "ax.connectors.http")


def test_gives_up_after_bounded_total_time_with_clear_error() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(503)], repeat_last=True)
    http = make_http(
        script, clock, rand=lambda: 0.999, backoff_cap=8.0, max_total_seconds=30.0, max_attempts=99
    )
    with pytest.raises(HelpdeskError) as caught:
        http.get_json("incremental/tickets/cursor.json", {"cursor": "abc123"})
    message = str(caught.value)
    assert "gave up" in message
    assert "https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json" in message
    assert "HTTP 503" in message
    assert "abc123" not in message  # no query string
    assert caught.value.status == 503
    assert sum(clock.sleeps) <= 30.0
    assert len(script.requests) == len(clock.sleeps) + 1 == 6  # 1+2+4+8+8 = 23 s; one more 8 s would pass 30


def test_slow_timeouts_count_against_the_time_budget() -> None:
    clock = FakeTime()

    def hang(request: httpx.Request) -> httpx.Response:
        clock.now += 25.0  # each attempt burns the whole read timeout
        raise httpx.ReadTimeout("timed out", request=request)

    script = Script([hang], repeat_last=True)
    with pytest.raises(HelpdeskError, match=r"last: ReadTimeout") as caught:
        make_http(script, clock, max_total_seconds=60.0).get_json("tickets.json")
    assert clock.now <= 60.0 + 25.0
    assert len(script.requests) == 3
    assert caught.value.status is None


def test_gives_up_after_max_attempts() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(500)], repeat_last=True)
    with pytest.raises(HelpdeskError, match=r"after 3 attempts"):
        make_http(script, clock, rand=lambda: 0.0, max_attempts=3).get_json("x")
    assert len(script.requests) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_stops_at_once_naming_the_setting(status: int) -> None:
    clock = FakeTime()
    script = Script([httpx.Response(status, json={"error": "Couldn't authenticate you"})], repeat_last=True)
    with pytest.raises(HelpdeskAuthError) as caught:
        make_http(script, clock).get_json("users.json")
    assert AUTH_SETTINGS in str(caught.value)
    assert f"HTTP {status}" in str(caught.value)
    assert caught.value.status == status
    assert len(script.requests) == 1
    assert clock.sleeps == []


def test_other_client_errors_are_not_retried_and_carry_the_status() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(404)], repeat_last=True)
    with pytest.raises(HelpdeskError) as caught:
        make_http(script, clock).get_json("tickets/9/metrics.json")
    assert not isinstance(caught.value, HelpdeskAuthError)
    assert caught.value.status == 404
    assert len(script.requests) == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    ("headers", "expected_pause"),
    [
        ({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "9"}, 6.0),  # Zendesk: 60 s window / 10
        ({"ratelimit-limit": "100", "ratelimit-remaining": "1", "ratelimit-reset": "41"}, 20.5),  # Zendesk
        ({"X-RateLimit-Total": "400", "X-RateLimit-Remaining": "3"}, 15.0),  # Freshdesk
        (  # Intercom: epoch reset 10 s away, 4 left -> spread over 5 slots
            {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "1700000010"},
            2.0,
        ),
        (  # Front, lowercase, exhausted: wait until the reset
            {"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000020"},
            20.0,
        ),
        (  # Help Scout
            {
                "X-RateLimit-Limit-Minute": "400",
                "X-RateLimit-Remaining-Minute": "0",
                "X-RateLimit-Retry-After": "15",
            },
            15.0,
        ),
    ],
)
def test_low_quota_pauses_before_the_next_call(headers: dict[str, str], expected_pause: float) -> None:
    clock = FakeTime()
    script = Script([ok(headers=headers), ok()])
    http = make_http(script, clock)
    http.get_json("page1")
    assert clock.sleeps == []  # no pause after a page: the caller may not need another
    http.get_json("page2")
    assert clock.sleeps == [pytest.approx(expected_pause)]
    assert len(script.requests) == 2


def test_plenty_of_quota_means_no_pause() -> None:
    clock = FakeTime()
    script = Script([ok(headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "500"}), ok()])
    http = make_http(script, clock)
    http.get_json("page1")
    http.get_json("page2")
    assert clock.sleeps == []


def test_quota_pause_shrinks_by_time_already_spent() -> None:
    clock = FakeTime()
    script = Script([ok(headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "0"}), ok()])
    http = make_http(script, clock)
    http.get_json("page1")
    clock.now += 45.0  # the caller spent 45 s storing the page
    http.get_json("page2")
    assert clock.sleeps == [pytest.approx(15.0)]


def test_quota_header_names_are_configurable() -> None:
    clock = FakeTime()
    custom = (QuotaHeaders("X-Budget-Left", "X-Budget", "X-Budget-Reset"),)
    script = Script([ok(headers={"X-Budget": "10", "X-Budget-Left": "0", "X-Budget-Reset": "3"}), ok()])
    http = make_http(script, clock, quota_headers=custom)
    http.get_json("a")
    http.get_json("b")
    assert clock.sleeps == [3.0]


def test_truncated_json_twice_raises_bad_page() -> None:
    clock = FakeTime()
    truncated = httpx.Response(
        200, content=b'{"tickets": [{"id": 1}, {"id"', headers={"Content-Type": "application/json"}
    )
    script = Script([truncated], repeat_last=True)
    with pytest.raises(HelpdeskBadPage) as caught:
        make_http(script, clock).get_json("incremental/tickets/cursor.json", {"cursor": "c1"})
    assert "not valid JSON" in str(caught.value)
    assert "incremental/tickets/cursor.json" in str(caught.value)
    assert len(script.requests) == 2  # one retry: truncation is often a dropped connection
    assert len(clock.sleeps) == 1


def test_truncated_json_once_is_retried_and_recovers() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(200, content=b"<html>maintenance"), ok({"tickets": [{"id": 2}]})])
    data, _ = make_http(script, clock).get_json("tickets.json")
    assert data == {"tickets": [{"id": 2}]}


def test_post_uses_the_same_policy() -> None:
    clock = FakeTime()
    script = Script([httpx.Response(429, headers={"Retry-After": "2"}), ok({"conversations": []})])
    data, _ = make_http(script, clock).request_json("POST", "conversations/search", json={"query": {}})
    assert data == {"conversations": []}
    assert [r.method for r in script.requests] == ["POST", "POST"]
    assert script.requests[1].content == b'{"query":{}}'
    assert clock.sleeps == [2.0]


@pytest.mark.parametrize("style", ["bearer", "basic"])
def test_secrets_never_reach_errors_or_logs(style: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token, api_key = "tok_s3cr3t_VALUE", "key_s3cr3t_QUERY"
    clock = FakeTime()

    def refuse(request: httpx.Request) -> httpx.Response:
        # worst case: a transport error that echoes the URL and the raw credential header
        raise httpx.ConnectError(f"cannot reach {request.url} as {request.headers['Authorization']}")

    script = Script([httpx.Response(500), refuse, httpx.Response(401)])
    if style == "bearer":  # Intercom, Front, Help Scout
        http = make_http(script, clock, headers={"Authorization": f"Bearer {token}"})
    else:  # Zendesk ({email}/token:{api_token}), Freshdesk ({api_key}:X)
        http = make_http(script, clock, auth=("agent@acme.com/token", token))
    with pytest.raises(HelpdeskAuthError) as caught:
        http.get_json("tickets.json", {"api_key": api_key, "page": "2"})

    basic_blob = httpx.BasicAuth("agent@acme.com/token", token)._auth_header.split()[1]
    sent = script.requests[0]
    assert sent.url.params["api_key"] == api_key  # the secrets really were on the wire
    assert sent.headers["Authorization"].endswith(token if style == "bearer" else basic_blob)
    assert len(clock.sleeps) == 2  # two retries happened and were logged
    texts = [
        str(caught.value),
        repr(caught.value.args),
        caplog.text,
        *(r.getMessage() for r in caplog.records),
    ]
    for text in texts:
        for secret in (token, api_key, basic_blob):
            assert secret not in text
    assert "retry" in caplog.text
    assert "ConnectError" in caplog.text
    assert any(r.name == "httpx" for r in caplog.records)  # httpx's own request log is scrubbed, not muted
    assert "api_key=***" in caplog.text


def test_redact_and_safe_url_helpers() -> None:
    text = (
        "GET https://user:pw@x.io/v2/a?api_key=abc&access_token=def&page=2 "
        "headers={'Authorization': 'Basic Zm9vOmJhcg=='} other secret-value"
    )
    cleaned = redact(text, secrets=["secret-value"])
    for leaked in ("pw@", "abc", "def", "Zm9vOmJhcg==", "secret-value"):
        assert leaked not in cleaned
    assert "page=2" in cleaned
    assert safe_url("https://user:pw@x.io:8443/v2/a?token=abc") == "https://x.io:8443/v2/a"


def test_parse_retry_after() -> None:
    assert parse_retry_after("3", now=0) == 3.0
    assert parse_retry_after("-5", now=0) == 0.0
    assert parse_retry_after(formatdate(1000, usegmt=True), now=990) == pytest.approx(10.0)
    assert parse_retry_after("later", now=0) is None
    assert parse_retry_after(None, now=0) is None
