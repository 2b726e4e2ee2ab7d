"""Freshdesk connector against the fake API: ground truth, incremental, faults, crash/resume, auth."""

from __future__ import annotations

import json
import logging
import random

import httpx
import pytest
from sqlalchemy import select

from connectors.contract import run_sync, stored_cursor
from connectors.freshdesk import FreshdeskConfig, build_freshdesk, csat_score, hhmm_seconds
from connectors.http import HelpdeskAuthError, HelpdeskError
from db.models import (
    Agent,
    AgentStatusInterval,
    Contact,
    CsatRating,
    QueueSnapshot,
    Team,
    TeamMembership,
    WorkSegment,
)
from tests.fakes.freshdesk import FakeFreshdesk
from tests.fakes.retries import sync_until_done


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def connector(fake: FakeFreshdesk, timer: FakeTime | None = None, **config):
    timer = timer or FakeTime()
    cfg = FreshdeskConfig(domain=fake.domain, api_key=config.pop("api_key", fake.api_key), **config)
    return build_freshdesk(
        cfg,
        transport=httpx.MockTransport(fake),
        sleep=timer.sleep,
        now=lambda: fake.now,
        clock=timer.clock,
        wall_clock=lambda: 1_700_000_000 + timer.now,
        random=lambda: 0.5,
    )


def _rows(engine, model, *cols, source="freshdesk"):
    table = model.__table__
    with engine.connect() as conn:
        return conn.execute(select(*(table.c[c] for c in cols)).where(table.c.source == source)).all()


def db_state(engine, source: str = "freshdesk") -> dict:
    def rows(model, *cols):
        return _rows(engine, model, *cols, source=source)

    agents = dict(rows(Agent, "id", "external_id"))
    teams = dict(rows(Team, "id", "external_id"))
    contacts = {
        ext: {
            "channel": ch,
            "agent": agents.get(a),
            "team": teams.get(t),
            "handle_seconds": h,
            "escalated": esc,
            "reopened": reo,
            "deleted": d,
        }
        for ext, ch, a, t, h, esc, reo, d in rows(
            Contact,
            "external_id",
            "channel",
            "agent_id",
            "team_id",
            "handle_seconds",
            "escalated",
            "reopened",
            "deleted",
        )
    }
    return {
        "agents": sorted(agents.values()),
        "teams": sorted(teams.values()),
        "memberships": {(teams[t], agents[a]) for t, a in rows(TeamMembership, "team_id", "agent_id")},
        "contacts": contacts,
        "segments": {e for (e,) in rows(WorkSegment, "external_id")},
        "csat": dict(rows(CsatRating, "external_id", "score")),
    }


def truth(fake: FakeFreshdesk) -> dict:
    return {
        "agents": sorted(str(a["id"]) for a in fake.agents),
        "teams": sorted(str(g["id"]) for g in fake.groups),
        "memberships": fake.expected_memberships(),
        "contacts": fake.expected_contacts(),
        "segments": fake.expected_segments(),
        "csat": fake.expected_csat(),
    }


def test_full_sync_equals_ground_truth(engine, caplog):
    fake = FakeFreshdesk(seed=1)
    conn = connector(fake)
    caplog.set_level(logging.WARNING, "ax.connectors.freshdesk")
    results = run_sync(engine, conn)
    state = db_state(engine)
    expected = truth(fake)
    assert state == expected
    assert len(state["contacts"]) == 179 and sum(c["deleted"] for c in state["contacts"].values()) == 6
    assert any(c["handle_seconds"] for c in state["contacts"].values())
    assert conn.skipped == {"tickets": 1, "time_entries": 1, "satisfaction_ratings": 1}
    assert fake.api_key not in caplog.text and "skipped a malformed" in caplog.text
    assert results["tickets"].rows["contact"] >= 173
    with engine.connect() as c:
        zones = dict(c.execute(select(Agent.__table__.c.external_id, Agent.__table__.c.timezone)).all())
        active = dict(c.execute(select(Agent.__table__.c.external_id, Agent.__table__.c.active)).all())
        statuses = c.execute(select(AgentStatusInterval.__table__)).mappings().all()
        snaps = c.execute(select(QueueSnapshot.__table__)).mappings().all()
    assert zones[str(fake.agents[0]["id"])] == "America/New_York"
    assert active[str(fake.agents[-1]["id"])] is False
    with_since = [a for a in fake.agents if a["available_since"]]
    assert len(statuses) == len(with_since)
    assert {s["status"] for s in statuses} <= {"available", "away"}
    waiting, longest = fake.expected_backlog()
    assert [(s["queue"], s["waiting"], s["longest_wait_seconds"]) for s in snaps] == [
        ("unassigned", waiting, longest)
    ]
    assert snaps[0]["agents_available"] == sum(a["available"] for a in fake.agents)
    # every ticket list request sent updated_since (without it Freshdesk returns 30 days only)
    listed = [line for line in fake.log if line.startswith("/api/v2/tickets?")]
    assert listed and all("updated_since=" in line and "per_page=100" in line for line in listed)
    cursor = json.loads(stored_cursor(engine, "freshdesk", "tickets"))
    assert cursor["page"] == 1 and cursor["since"] < max(t["updated_at"] for t in fake.tickets.values())


def test_resync_changes_nothing_and_rereads_only_the_overlap(engine):
    fake = FakeFreshdesk(seed=2)
    run_sync(engine, connector(fake))
    before = db_state(engine)
    fake.log.clear()
    results = run_sync(engine, connector(fake))
    assert db_state(engine) == before
    assert results["tickets"].rows["contact"] < 10  # only the overlap window is read again
    assert stored_cursor(engine, "freshdesk", "agents") is None  # directory: full refresh each run


def test_incremental_sync_picks_up_new_updated_and_deleted(engine):
    fake = FakeFreshdesk(seed=3)
    run_sync(engine, connector(fake))
    live = sorted(t for t, v in fake.well_formed().items() if not v["deleted"])
    new = fake.add_tickets(3)
    fake.update_ticket(live[5], responder_id=fake.agents[2]["id"], is_escalated=True)
    fake.delete_ticket(live[9])
    results = run_sync(engine, connector(fake))
    state = db_state(engine)
    assert state["contacts"] == truth(fake)["contacts"]
    assert {str(t) for t in new} <= set(state["contacts"])
    assert state["contacts"][str(live[5])]["escalated"] is True
    assert state["contacts"][str(live[9])]["deleted"] is True
    assert results["tickets"].rows["contact"] <= 3 + 1 + 10  # changes plus the overlap re-read
    assert results["deleted_tickets"].rows["contact"] <= 1 + 10


def test_ticket_updated_mid_sync_is_not_lost(engine):
    """Page-number paging would skip a ticket when an earlier one moves to the end; anchoring does not."""
    fake = FakeFreshdesk(seed=4)
    order = sorted(fake.well_formed().values(), key=lambda t: (t["updated_at"], t["id"]))
    early = next(t["id"] for t in order[:50] if not t["deleted"])
    done = []

    def mutate(f, request):
        """Before the second ticket-list request, move a first-page ticket to the end of the order."""
        lists = [line for line in f.log if line.startswith("/api/v2/tickets?")]
        if request.url.path == "/api/v2/tickets" and len(lists) == 2 and not done:
            f.update_ticket(early, priority=4)
            done.append(True)

    fake.on_request = mutate
    run_sync(engine, connector(fake, per_page=20))
    assert done and db_state(engine) == truth(fake)


def test_page_cap_is_never_exceeded(engine):
    """180 tickets at 10 a page is 18 pages, a cap of 3 is enough: the window moves instead."""
    fake = FakeFreshdesk(seed=5, page_cap=3)
    run_sync(engine, connector(fake, per_page=10, time_entries=False))
    pages = [int(line.rsplit("page=", 1)[1].split("&")[0]) for line in fake.log if "/tickets?" in line]
    assert max(pages) == 3  # the 25-ticket same-second block needs pages 1-3 of one window
    assert set(db_state(engine)["contacts"]) == set(truth(fake)["contacts"])


def test_duplicate_page_inside_a_same_second_block_is_asked_again(engine):
    """Paging on within one second: a repeated page must not make the connector skip the next one."""
    fake = FakeFreshdesk(seed=5)
    seen: set[str] = set()

    def duplicate_block_pages(f, request):
        block_page = request.url.path == "/api/v2/tickets" and request.url.params.get("page") != "1"
        if block_page and str(request.url) not in seen:
            seen.add(str(request.url))
            f.faults[f.requests] = "duplicate"

    fake.on_request = duplicate_block_pages
    run_sync(engine, connector(fake, per_page=10, time_entries=False))
    assert fake.served["duplicate"] >= 2
    assert set(db_state(engine)["contacts"]) == set(truth(fake)["contacts"])


@pytest.mark.parametrize("kind", ["429", "500", "timeout", "truncated", "duplicate"])
def test_each_fault_kind_is_survived(engine, kind):
    at = range(2, 200, 2) if kind == "duplicate" else (2, 5, 9, 14, 30, 61, 95)
    fake = FakeFreshdesk(seed=6, tickets=90, faults=dict.fromkeys(at, kind))
    timer = FakeTime()
    run_sync(engine, connector(fake, timer, per_page=20))
    assert db_state(engine) == truth(fake)
    assert fake.served[kind] >= 7
    if kind == "429":
        assert timer.sleeps.count(7.0) == 7  # Retry-After honoured, exactly
    elif kind in ("500", "timeout", "truncated"):
        assert len(timer.sleeps) == 7
    else:
        assert timer.sleeps == []


def test_crash_between_pages_resumes_without_loss_or_duplicates(engine):
    fake = FakeFreshdesk(seed=7)
    lists = []

    def crash_on_third_list_page(f, request):
        if request.url.path == "/api/v2/tickets" and not request.url.params.get("filter"):
            lists.append(f.requests)
            if len(lists) == 3:
                f.faults[f.requests] = "fatal"  # a non-retryable 400 after two committed pages

    fake.on_request = crash_on_third_list_page
    with pytest.raises(HelpdeskError, match="HTTP 400"):
        run_sync(engine, connector(fake, per_page=25))
    partial = db_state(engine)["contacts"]
    cursor = json.loads(stored_cursor(engine, "freshdesk", "tickets"))
    assert 25 <= len(partial) < len(fake.expected_contacts())
    assert cursor["page"] == 1 and cursor["since"] > "2026-01-30T00:00:00Z"
    fake.on_request = None
    fake.log.clear()
    run_sync(engine, connector(fake, per_page=25))
    first_list = next(line for line in fake.log if line.startswith("/api/v2/tickets?"))
    assert f"updated_since={cursor['since'].replace(':', '%3A')}" in first_list  # resumed, not restarted
    assert db_state(engine) == truth(fake)


def test_wrong_key_raises_auth_error_naming_the_setting(engine):
    fake = FakeFreshdesk(seed=8)
    with pytest.raises(HelpdeskAuthError) as err:
        run_sync(engine, connector(fake, api_key="wrong-key-999"))
    assert "AX_FRESHDESK_API_KEY" in str(err.value) and "wrong-key-999" not in str(err.value)
    assert fake.log == ["/api/v2/groups?per_page=100&page=1"]


def test_low_quota_headers_pause_before_next_request(engine):
    fake = FakeFreshdesk(seed=9, tickets=30, rate_total=20)
    timer = FakeTime()
    run_sync(engine, connector(fake, timer))
    assert timer.sleeps and all(s >= 20 for s in timer.sleeps)  # 60 s window spread over <= 2 calls
    assert db_state(engine) == truth(fake)


def test_mapping_helpers():
    assert hhmm_seconds("01:15") == 4500 and hhmm_seconds("00:00") == 0
    with pytest.raises(ValueError):
        hhmm_seconds("1h20")
    assert [csat_score(v) for v in (103, 102, 101, 100, -101, -102, -103)] == [5, 4, 4, 3, 2, 2, 1]
    with pytest.raises(ValueError):
        csat_score(7)


def test_random_faults_with_whole_run_retries_reach_ground_truth(engine):
    """20 seeds, each its own source name in one database (a fresh database per seed is slow)."""
    kinds = ["429", "500", "timeout", "truncated", "duplicate", "fatal"]
    for seed in range(20):
        rng = random.Random(seed)
        faults = {n: rng.choice(kinds) for n in rng.sample(range(1, 90), 14)}
        fake = FakeFreshdesk(seed=100 + seed, agents=5, groups=2, tickets=50, faults=faults)
        sync = connector(fake, per_page=rng.choice((10, 20, 100)))
        sync.name = source = f"freshdesk-{seed}"
        crashes = sync_until_done(engine, lambda sync=sync: sync, attempts=10, label=f"seed {seed}")
        assert db_state(engine, source) == truth(fake), f"seed {seed}"
        assert crashes <= sum(1 for k in faults.values() if k in ("fatal", "truncated"))
        assert fake.served.total() >= 5, f"seed {seed}: too few faults reached"
