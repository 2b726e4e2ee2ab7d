"""Front connector against the fake API: ground truth, incremental, faults, crash/resume, auth."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from connectors.contract import run_sync, stored_cursor
from connectors.front import FrontConfig, build_front, ts
from connectors.http import HelpdeskAuthError, HelpdeskError
from db.models import Agent, AgentStatusInterval, Contact, QueueSnapshot, Team, TeamMembership
from tests.fakes.front import FakeFront
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


def connector(fake: FakeFront, timer: FakeTime | None = None, **config):
    timer = timer or FakeTime()
    cfg = FrontConfig(api_token=config.pop("api_token", fake.token), **config)
    return build_front(
        cfg,
        transport=httpx.MockTransport(fake),
        sleep=timer.sleep,
        now=lambda: datetime.fromtimestamp(fake.now, UTC),
        clock=timer.clock,
        wall_clock=lambda: 1_700_000_000 + timer.now,
        random=lambda: 0.5,
    )


def _unix(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp(), 3)


def _rows(engine, model, *cols, source="front"):
    table = model.__table__
    with engine.connect() as conn:
        return conn.execute(select(*(table.c[c] for c in cols)).where(table.c.source == source)).all()


def db_state(engine, source: str = "front") -> dict:
    def rows(model, *cols):
        return _rows(engine, model, *cols, source=source)

    agents = dict(rows(Agent, "id", "external_id"))
    teams = dict(rows(Team, "id", "external_id"))
    cols = ("external_id", "channel", "agent_id", "first_response_at", "solved_at", "updated_at")
    cols += ("wait_seconds", "escalated", "reopened", "deleted", "handle_seconds")
    contacts = {
        ext: {
            "channel": ch,
            "agent": agents.get(a),
            "first_response_at": _unix(first),
            "solved_at": _unix(solved),
            "updated_at": _unix(updated),
            "wait_seconds": wait,
            "escalated": esc,
            "reopened": reo,
            "deleted": d,
        }
        for ext, ch, a, first, solved, updated, wait, esc, reo, d, handle in rows(Contact, *cols)
        if handle is None  # Front has no per-conversation handle time: a value here would be wrong
    }
    return {
        "agents": sorted(agents.values()),
        "teams": sorted(teams.values()),
        "memberships": {(teams[t], agents[a]) for t, a in rows(TeamMembership, "team_id", "agent_id")},
        "contacts": contacts,
    }


def truth(fake: FakeFront) -> dict:
    return {
        "agents": sorted(t["id"] for t in fake.teammates),
        "teams": sorted(t["id"] for t in fake.teams),
        "memberships": fake.expected_memberships(),
        "contacts": fake.expected_contacts(),
    }


def test_full_sync_equals_ground_truth(engine, caplog):
    fake = FakeFront(seed=1)
    conn = connector(fake)
    caplog.set_level(logging.WARNING, "ax.connectors.front")
    results = run_sync(engine, conn)
    state = db_state(engine)
    assert state == truth(fake)
    contacts = state["contacts"]
    assert len(contacts) == 117 and sum(c["deleted"] for c in contacts.values()) == 3  # 5 trashed, 2 purged
    assert fake.purged.isdisjoint(contacts) and fake.bad_conversation not in contacts
    assert {c["channel"] for c in contacts.values()} >= {"email", "chat", "phone", "messaging", "social"}
    assert any(c["reopened"] for c in contacts.values()) and any(c["escalated"] for c in contacts.values())
    assert sum(c["solved_at"] is not None for c in contacts.values()) > 30
    assert conn.skipped["conversations"] >= 1 and conn.skipped["events"] == 1
    assert fake.token not in caplog.text and "skipped a malformed record" in caplog.text
    assert results["teams"].rows["team_membership"] == 9
    with engine.connect() as c:
        active = dict(c.execute(select(Agent.__table__.c.external_id, Agent.__table__.c.active)).all())
        statuses = c.execute(select(AgentStatusInterval.__table__)).mappings().all()
        snaps = c.execute(select(QueueSnapshot.__table__)).mappings().all()
    assert active[fake.teammates[-1]["id"]] is False and active[fake.teammates[0]["id"]] is True
    assert len(statuses) == len(fake.teammates) - 1  # the blocked teammate has no status
    waiting, longest = fake.expected_backlog()
    assert waiting > 0
    assert [(s["queue"], s["waiting"], s["longest_wait_seconds"]) for s in snaps] == [
        ("unassigned", waiting, longest)
    ]
    assert snaps[0]["agents_available"] == sum(t["is_available"] for t in fake.teammates[:-1])
    listed = [line for line in fake.log if line.startswith("/events?")]
    assert listed and all("sort_order=asc" in line and "q%5Bafter%5D=" in line for line in listed)
    cursor = json.loads(stored_cursor(engine, "front", "conversations"))
    assert set(cursor) == {"after"} and cursor["after"] == max(e["emitted_at"] for e in fake.events) - 300


def test_resync_changes_nothing_and_rereads_only_the_overlap(engine):
    fake = FakeFront(seed=2)
    run_sync(engine, connector(fake))
    before = db_state(engine)
    fake.log.clear()
    results = run_sync(engine, connector(fake))
    assert db_state(engine) == before
    assert results["conversations"].rows["contact"] < 10  # only the overlap window is read again
    events = [line for line in fake.log if line.startswith("/events?")]
    assert len(events) == 1 and "page_token" not in events[0]
    assert stored_cursor(engine, "front", "teammates") is None  # directory: full refresh each run


def test_incremental_sync_picks_up_new_updated_trashed_and_purged(engine):
    fake = FakeFront(seed=3)
    run_sync(engine, connector(fake))
    live = sorted(c for c, v in fake.expected_contacts().items() if not v["deleted"])
    new = fake.add_conversations(3)
    agent = fake.teammates[2]["id"]
    fake.act(live[5], "assign", assignee=agent)
    fake.act(live[5], "out_reply", source=agent)
    fake.act(live[6], "reopen")
    fake.act(live[7], "trash", source=agent)
    fake.purge(live[8])
    fake.log.clear()
    results = run_sync(engine, connector(fake))
    state = db_state(engine)["contacts"]
    purged = state.pop(live[8])
    assert state == truth(fake)["contacts"]
    assert set(new) <= set(state) and state[live[5]]["agent"] == agent
    assert state[live[6]]["reopened"] is True and state[live[7]]["deleted"] is True
    assert purged["deleted"] is True and purged["channel"]  # DeletionRecord: marked, data kept
    assert results["conversations"].rows["contact deleted"] >= 1
    fetched = {line.split("?")[0] for line in fake.log if line.count("/") == 2 and "/conversations/" in line}
    assert len(fetched) <= 3 + 4 + 10  # changes plus the overlap re-read, not the whole history


def test_events_appended_mid_sync_are_not_lost(engine):
    """Keyset page tokens: a new event during the sync is read at the end of the same run."""
    fake = FakeFront(seed=4)
    done: list[str] = []

    def mutate(f, request):
        if request.url.path == "/events" and request.url.params.get("page_token") and not done:
            done.extend(f.add_conversations(1))

    fake.on_request = mutate
    run_sync(engine, connector(fake, limit=4))
    assert done and db_state(engine) == truth(fake)
    # limit 4 also pages each conversation's own event history (up to 8 events)
    assert any("/events?" in line and "page_token" in line for line in fake.log if "/conversations/" in line)


@pytest.mark.parametrize("kind", ["429", "500", "timeout", "truncated", "duplicate"])
def test_each_fault_kind_is_survived(engine, kind):
    at = range(2, 300, 3) if kind == "duplicate" else (2, 5, 9, 14, 30, 61, 95)
    fake = FakeFront(seed=6, conversations=50, faults=dict.fromkeys(at, kind))
    timer = FakeTime()
    run_sync(engine, connector(fake, timer, limit=20))
    assert db_state(engine) == truth(fake)
    assert fake.served[kind] >= 7
    if kind == "429":
        assert timer.sleeps.count(7.0) == 7  # retry-after honoured, exactly
    elif kind in ("500", "timeout", "truncated"):
        assert len(timer.sleeps) == 7
    else:
        assert timer.sleeps == []


def test_crash_between_pages_resumes_without_loss_or_duplicates(engine):
    fake = FakeFront(seed=7)
    pages: list[int] = []

    def crash_on_third_event_page(f, request):
        if request.url.path == "/events":
            pages.append(f.requests)
            if len(pages) == 3:
                f.faults[f.requests] = "fatal"  # a non-retryable 400 after two committed pages

    fake.on_request = crash_on_third_event_page
    with pytest.raises(HelpdeskError, match="HTTP 400"):
        run_sync(engine, connector(fake, limit=25))
    partial = db_state(engine)["contacts"]
    cursor = json.loads(stored_cursor(engine, "front", "conversations"))
    assert 10 <= len(partial) < len(fake.expected_contacts())
    assert "page_token=" in cursor["next"] and cursor["hwm"] > cursor["after"]
    fake.on_request = None
    fake.log.clear()
    run_sync(engine, connector(fake, limit=25))
    first_events = next(line for line in fake.log if line.startswith("/events?"))
    assert "page_token=" in first_events  # resumed after the committed page, not restarted
    assert db_state(engine) == truth(fake)


def test_wrong_token_raises_auth_error_naming_the_setting(engine):
    fake = FakeFront(seed=8)
    with pytest.raises(HelpdeskAuthError) as err:
        run_sync(engine, connector(fake, api_token="wrong-token-999"))
    assert "AX_FRONT_API_TOKEN" in str(err.value) and "wrong-token-999" not in str(err.value)
    assert fake.log == ["/teammates?limit=100"]


def test_low_quota_headers_pause_before_next_request(engine):
    fake = FakeFront(seed=9, conversations=15, rate_limit=20)
    timer = FakeTime()
    run_sync(engine, connector(fake, timer))
    assert timer.sleeps and all(s > 0 for s in timer.sleeps)  # lowercase x-ratelimit-* read
    assert db_state(engine) == truth(fake)


def test_live_samples_extend_availability_between_syncs(engine):
    fake = FakeFront(seed=10, conversations=10)
    run_sync(engine, connector(fake))
    first = fake.now
    fake.tick(300)
    run_sync(engine, connector(fake))
    table = AgentStatusInterval.__table__
    with engine.connect() as c:
        spans = c.execute(select(table.c.started_at, table.c.ended_at)).all()
        snaps = c.execute(select(QueueSnapshot.__table__.c.at)).all()
    assert len(snaps) == 2
    widths = sorted(round(_unix(end) - _unix(start)) for start, end in spans)
    # the first sync's point samples are extended (same id) to "held since the previous sample"
    assert widths == [300] * 7
    assert all(_unix(start) == first for start, _ in spans)


def test_timestamp_mapping():
    assert ts(1699575875.186) == datetime(2023, 11, 10, 0, 24, 35, 186000, tzinfo=UTC)
    assert ts(1700000000) == datetime.fromtimestamp(1700000000, UTC)
    for bad in ("1700000000", None, True, float("nan")):
        with pytest.raises(ValueError):
            ts(bad)


def test_random_faults_with_whole_run_retries_reach_ground_truth(engine):
    """20 seeds, each its own source name in one database (a fresh database per seed is slow)."""
    kinds = ["429", "500", "timeout", "truncated", "duplicate", "fatal"]
    for seed in range(20):
        rng = random.Random(seed)
        faults = {n: rng.choice(kinds) for n in rng.sample(range(1, 90), 14)}
        fake = FakeFront(seed=100 + seed, teammates=5, teams=2, conversations=30, faults=faults)
        sync = connector(fake, limit=rng.choice((10, 25, 100)))
        sync.name = source = f"front-{seed}"
        crashes = sync_until_done(engine, lambda sync=sync: sync, attempts=10, label=f"seed {seed}")
        assert db_state(engine, source) == truth(fake), f"seed {seed}"
        assert crashes <= sum(1 for k in faults.values() if k in ("fatal", "truncated"))
        assert fake.served.total() >= 5, f"seed {seed}: too few faults reached"
