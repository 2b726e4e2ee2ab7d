"""Zendesk connector against the fake API: ground truth, incremental, faults, crash/resume, auth."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from connectors.contract import run_sync, stored_cursor
from connectors.http import HelpdeskAuthError, HelpdeskError
from connectors.zendesk import ZendeskConfig, build_zendesk
from db.models import Agent, AgentStatusInterval, Contact, CsatRating, QueueSnapshot, Team, TeamMembership
from tests.fakes.retries import sync_until_done
from tests.fakes.zendesk import RETRY_AFTER, FakeZendesk

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CHANNEL = {"email": "email", "web": "email", "chat": "chat", "native_messaging": "messaging",
           "twitter": "social", "api": "other", "voice": "phone"}  # fmt: skip


def connector(fake: FakeZendesk, *, token: str = "tok-secret-123", now=NOW, sleeps=None):
    config = ZendeskConfig("acme", "admin@acme.test", token)
    return build_zendesk(
        config,
        transport=httpx.MockTransport(fake),
        sleep=(sleeps if sleeps is not None else []).append,
        now=(lambda: now) if isinstance(now, datetime) else now,
        random=lambda: 0.5,
    )


def expected(fake: FakeZendesk) -> dict:
    contacts = {}
    for tid, t in fake.tickets.items():
        ext = f"ticket:{tid}"
        if ext in fake.malformed:
            continue
        deleted = t["status"] == "deleted"
        m = {} if deleted else fake.metrics[tid]
        score = {"good": 5, "bad": 1}.get(t["satisfaction_rating"]["score"])
        wait = m["reply_time_in_minutes"]["calendar"] * 60 if m else None
        agent = None if t["assignee_id"] is None else str(t["assignee_id"])
        contacts[ext] = (CHANNEL[t["via"]["channel"]], agent, deleted, None, None, None, None, wait, score,
                         bool(m) and m["reopens"] > 0, bool(m) and m["group_stations"] > 1)  # fmt: skip
    for cid, c in fake.calls.items():
        ext = f"call:{cid}"
        if ext in fake.malformed:
            continue
        parts = (c["talk_time"], c["hold_time"], c["wrap_up_time"])
        contacts[ext] = ("phone", str(c["agent_id"]), False, sum(parts), *parts, c["wait_time"], None, False,
                         False)  # fmt: skip
    agents = {str(u): (v["active"] and not v["suspended"], not v["active"])
              for u, v in fake.users.items() if v["role"] in ("agent", "admin")}  # fmt: skip
    return {
        "contacts": contacts,
        "agents": agents,
        "teams": {str(g): (v["name"], v["deleted"]) for g, v in fake.groups.items()},
        "memberships": {f"{m['group_id']}:{m['user_id']}" for m in fake.memberships.values()},
        "csat": {
            str(r): (f"ticket:{v['ticket_id']}", {"good": 5, "bad": 1}[v["score"]])
            for r, v in fake.ratings.items()
        },
    }


def snapshot(engine) -> dict:
    agent = aliased(Agent)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Contact, agent.external_id.label("agent_ext"))
            .outerjoin(agent, agent.id == Contact.agent_id)
            .where(Contact.source == "zendesk")
        ).all()
        contacts = {
            r.external_id: (r.channel, r.agent_ext, r.deleted, r.handle_seconds, r.talk_seconds,
                            r.hold_seconds, r.wrap_seconds, r.wait_seconds, r.csat, r.reopened, r.escalated)
            for r in rows
        }  # fmt: skip
        agents = {
            r.external_id: (r.active, r.deleted)
            for r in conn.execute(select(Agent)).all()
            if r.deleted or r.email
        }
        teams = {r.external_id: (r.name, r.deleted) for r in conn.execute(select(Team)).all()}
        members = {r.external_id for r in conn.execute(select(TeamMembership)).all()}
        csat = {
            r.external_id: (r.contact_external_id, r.score) for r in conn.execute(select(CsatRating)).all()
        }
    return {"contacts": contacts, "agents": agents, "teams": teams, "memberships": members, "csat": csat}


def all_agent_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Agent.external_id)).scalars())


def test_config_defaults_and_repr_hide_the_token():
    config = ZendeskConfig("acme", "a@b.c", "tok-secret-123")
    assert config.base_url == "https://acme.zendesk.com"
    assert "tok-secret-123" not in repr(config)
    assert ZendeskConfig("x", "e", "t", base_url="http://h").base_url == "http://h"


def test_full_sync_equals_ground_truth(engine):
    fake = FakeZendesk(seed=1)
    conn = connector(fake)
    results = run_sync(engine, conn)
    truth = expected(fake)
    assert snapshot(engine) == truth
    assert len(truth["contacts"]) == 40 + 15 and sum(v[2] for v in truth["contacts"].values()) == 3
    assert all_agent_ids(engine) == set(truth["agents"])  # no placeholder left over
    assert dict(conn.skipped) == {"tickets": 1, "calls": 1}
    assert results["agents"].rows["agent"] == 8  # end-users are not agents
    # the ticket export ended only on end_of_stream, after following its empty pages
    ticket_requests = fake.served.count("/api/v2/incremental/tickets/cursor")
    assert ticket_requests > -(-41 // fake.page_size) + 1
    with engine.connect() as db:
        statuses = {r.external_id: (r.status, r.started_at, r.ended_at) for r in db.execute(select(
            AgentStatusInterval.external_id, AgentStatusInterval.status, AgentStatusInterval.started_at,
            AgentStatusInterval.ended_at))}  # fmt: skip
        queue = db.execute(select(QueueSnapshot)).one()
    stamp = int(NOW.timestamp())
    want = {}
    for uid, a in fake.activity.items():
        by_state = {"online": "available", "transfers_only": "online"}
        status = "busy" if a["call_status"] else by_state.get(a["agent_state"], a["agent_state"])
        want[f"talk:{uid}:{stamp}"] = (status, NOW, NOW)
    assert statuses == want
    available = sum(s == "available" for s, _, _ in want.values())
    assert (queue.queue, queue.waiting, queue.longest_wait_seconds) == ("talk", 4, 80)
    assert (queue.agents_online, queue.agents_available, queue.at) == (
        fake.queue["agents_online"],
        available,
        NOW,
    )


def test_resync_changes_nothing_and_reads_only_the_boundary(engine):
    fake = FakeZendesk(seed=2)
    run_sync(engine, connector(fake))
    before = snapshot(engine)
    results = run_sync(engine, connector(fake))
    assert snapshot(engine) == before == expected(fake)
    assert results["tickets"].rows.get("contact", 0) == 0
    assert results["agents"].rows.get("agent", 0) == 0
    # Talk repeats the boundary record; a page without progress is confirmed once before stopping
    assert results["calls"].rows["contact"] == 2


def test_incremental_sync_picks_up_only_the_changes(engine):
    fake = FakeZendesk(seed=3)
    run_sync(engine, connector(fake))
    tickets = sorted(
        t for t, v in fake.tickets.items() if v["status"] != "deleted" and v["created_at"][0] == "2"
    )
    fake.update_ticket(tickets[0], status="solved", assignee_id=101)
    fake.update_ticket(tickets[1], via={"channel": "chat"})
    fake.delete_ticket(tickets[2])
    new = [fake.add_ticket(), fake.add_ticket()]
    fake.update_call(1001, wrap_up_time=999)
    fake.add_call()
    results = run_sync(engine, connector(fake))
    assert results["tickets"].rows["contact"] == 5
    # boundary + 2 changes on the first page, then the new boundary read and confirmed
    assert results["calls"].rows["contact"] == 1 + 2 + 1 + 1
    got = snapshot(engine)
    assert got == expected(fake)
    assert got["contacts"][f"ticket:{tickets[2]}"][2] is True
    assert got["contacts"][f"ticket:{tickets[0]}"][1] == "101"
    assert got["contacts"][f"ticket:{tickets[1]}"][0] == "chat"
    assert got["contacts"]["call:1001"][6] == 999
    assert all(f"ticket:{t}" in got["contacts"] for t in new)


def test_status_intervals_span_from_the_previous_sample(engine):
    fake = FakeZendesk(seed=4)
    clock = iter([NOW, NOW + timedelta(minutes=5), NOW + timedelta(hours=2)])
    conn = connector(fake, now=lambda: next(clock))
    for _ in range(3):
        run_sync(engine, conn)
    with engine.connect() as db:
        spans = {(r.started_at, r.ended_at) for r in db.execute(select(AgentStatusInterval))}
        queues = db.execute(select(QueueSnapshot.at)).scalars().all()
    later, much_later = NOW + timedelta(minutes=5), NOW + timedelta(hours=2)
    assert spans == {(NOW, NOW), (NOW, later), (much_later, much_later)}  # a 2 h gap is not assumed
    assert sorted(queues) == [NOW, later, much_later]


@pytest.mark.parametrize("kind", ["429", "500", "timeout", "truncated", "duplicate"])
def test_each_fault_is_survived(engine, kind):
    fake = FakeZendesk(seed=5, faults={n: kind for n in (2, 5, 9, 14, 20, 27, 33)})
    sleeps: list[float] = []
    run_sync(engine, connector(fake, sleeps=sleeps))
    assert snapshot(engine) == expected(fake)
    if kind == "429":
        assert sleeps.count(RETRY_AFTER) == 7
    elif kind == "duplicate":
        assert not sleeps
    else:
        assert len(sleeps) == 7


def _request_number(seed: int, path: str, nth: int) -> tuple[int, int]:
    """The number of the ``nth`` request to ``path`` in a clean first sync, and how many it makes there."""
    probe = FakeZendesk(seed=seed)
    conn = connector(probe)
    count = 0
    for stream in conn.streams():
        for _ in conn.pages(stream, None):
            pass
    for index, served in enumerate(probe.served, start=1):
        if served == path:
            count += 1
            if count == nth:
                return index, probe.served.count(path)
    raise AssertionError(f"{path} was requested fewer than {nth} times")


def test_crash_between_pages_then_resume_gives_exact_truth(engine):
    crash_at, clean_requests = _request_number(6, "/api/v2/incremental/tickets/cursor", 3)
    fake = FakeZendesk(seed=6, faults={crash_at: "fatal"})
    with pytest.raises(HelpdeskError, match="HTTP 400"):
        run_sync(engine, connector(fake))
    cursor = stored_cursor(engine, "zendesk", "tickets")
    partial = snapshot(engine)["contacts"]
    assert cursor is not None and 0 < len(partial) < 40
    served_before = fake.served.count("/api/v2/incremental/tickets/cursor")
    run_sync(engine, connector(fake))
    assert snapshot(engine) == expected(fake)
    # the resumed run continued after the last stored page instead of starting over
    resumed = fake.served.count("/api/v2/incremental/tickets/cursor") - served_before
    assert served_before == 2 and served_before + resumed == clean_requests


def test_wrong_token_names_the_setting_and_hides_the_secret(engine):
    fake = FakeZendesk(seed=7)
    with pytest.raises(HelpdeskAuthError) as info:
        run_sync(engine, connector(fake, token="wrong-token-456"))
    assert "AX_ZENDESK_API_TOKEN" in str(info.value) and "401" in str(info.value)
    assert "wrong-token-456" not in str(info.value)
    assert fake.requests == 0


def test_randomized_faults_always_converge_to_ground_truth(engine):
    for seed in range(20):
        rng = random.Random(seed)
        faults = {n: rng.choice(["429", "500", "timeout", "truncated", "duplicate", "fatal"])
                  for n in rng.sample(range(1, 45), 8)}  # fmt: skip
        fake = FakeZendesk(seed=100 + seed, tickets=25, calls=10, faults=faults)
        sync_until_done(engine, lambda fake=fake: connector(fake), attempts=12, label=f"seed {seed}")
        got = snapshot(engine)
        truth = expected(fake)
        assert got == truth, f"seed {seed}"
        _reset(engine)


def _reset(engine) -> None:
    from db.models import SyncState

    with engine.begin() as conn:
        for model in (CsatRating, AgentStatusInterval, QueueSnapshot, Contact, TeamMembership, Agent, Team,
                      SyncState):  # fmt: skip
            conn.execute(model.__table__.delete())
