"""Intercom connector against the fake API, on SQLite and PostgreSQL: ground truth, faults, resume."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.contract import run_sync, stored_cursor
from connectors.http import HelpdeskAuthError, HelpdeskError
from connectors.intercom import CHANNELS, OVERLAP_SECONDS, IntercomConfig, build_intercom
from db.models import Agent, AgentStatusInterval, Contact, CsatRating, QueueSnapshot, Team, TeamMembership
from tests.fakes.intercom import FAULTS, T0, FakeCrash, IntercomFake
from tests.fakes.retries import sync_until_done

START = T0 - 86400


def _dt(unix: int | None) -> datetime | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC)


def _unix(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _connector(fake: IntercomFake, sleeps: list[float] | None = None, token: str | None = None):
    return build_intercom(
        IntercomConfig(token or fake.token, start_at=_dt(START)),
        transport=httpx.MockTransport(fake),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: _dt(fake.now),
        wall_clock=lambda: float(fake.now),
        random=lambda: 0.5,
    )


def _state(engine: Engine) -> dict:
    """Everything the Intercom sync stored, keyed by helpdesk ids."""
    with engine.connect() as conn:
        agents = {r.id: r for r in conn.execute(select(Agent.__table__).where(Agent.source == "intercom"))}
        teams = {r.id: r for r in conn.execute(select(Team.__table__).where(Team.source == "intercom"))}

        def rows(model):
            return list(conn.execute(select(model.__table__).where(model.source == "intercom")))

        contacts = {
            c.external_id: (
                c.channel,
                _unix(c.created_at),
                _unix(c.updated_at),
                agents[c.agent_id].external_id if c.agent_id else None,
                teams[c.team_id].external_id if c.team_id else None,
                _unix(c.first_response_at),
                _unix(c.solved_at),
                c.handle_seconds,
                (c.talk_seconds, c.hold_seconds, c.wrap_seconds),
                c.wait_seconds,
                c.csat,
                c.reopened,
                c.deleted,
            )
            for c in rows(Contact)
        }
        return {
            "agents": {a.external_id: (a.name, a.email, a.active, a.deleted) for a in agents.values()},
            "teams": {t.external_id: (t.name, t.deleted) for t in teams.values()},
            "memberships": {
                (teams[m.team_id].external_id, agents[m.agent_id].external_id) for m in rows(TeamMembership)
            },
            "contacts": contacts,
            "csat": {
                c.external_id: (
                    c.contact_external_id,
                    c.score,
                    _unix(c.rated_at),
                    agents[c.agent_id].external_id,
                )
                for c in rows(CsatRating)
            },
            "statuses": {
                s.external_id: (
                    agents[s.agent_id].external_id,
                    s.status,
                    _unix(s.started_at),
                    _unix(s.ended_at),
                )
                for s in rows(AgentStatusInterval)
            },
            "queue": {(q.queue, _unix(q.at), q.waiting, q.longest_wait_seconds) for q in rows(QueueSnapshot)},
        }


def _truth(fake: IntercomFake) -> dict:
    contacts, csat = {}, {}
    for c in fake.live():
        s, rating = c["statistics"], c["conversation_rating"]
        admin = str(c["admin_assignee_id"]) if c["admin_assignee_id"] else None
        contacts[c["id"]] = (
            CHANNELS[c["source"]["type"]],
            c["created_at"],
            c["updated_at"],
            admin,
            str(c["team_assignee_id"]) if c["team_assignee_id"] else None,
            s["first_admin_reply_at"],
            s["last_close_at"] if c["state"] == "closed" else None,
            s["adjusted_handling_time"],
            (None, None, None),
            s["time_to_admin_reply"],
            rating["rating"] if rating else None,
            s["count_reopens"] > 0,
            False,
        )
        if rating:
            csat[c["id"]] = (c["id"], rating["rating"], rating["created_at"], str(rating["teammate"]["id"]))
    waiting, longest = fake.queue(fake.now)
    return {
        "agents": {a["id"]: (a["name"], a["email"], a["has_inbox_seat"], False) for a in fake.admin_list},
        "teams": {t["id"]: (t["name"], False) for t in fake.team_list},
        "memberships": fake.memberships(),
        "contacts": contacts,
        "csat": csat,
        "statuses": {k: v for k, v in fake.status_intervals(START).items()},
        "queue": {("open-unassigned", fake.now, waiting, longest)},
    }


def _assert_truth(engine: Engine, fake: IntercomFake) -> None:
    state, truth = _state(engine), _truth(fake)
    for key in truth:
        if key == "queue":  # snapshots are a time series: the latest must be there
            assert truth[key] <= state[key]
        else:
            assert state[key] == truth[key], key


def test_full_sync_equals_ground_truth(engine):
    fake = IntercomFake(seed=3)
    connector = _connector(fake)
    results = run_sync(engine, connector)
    _assert_truth(engine, fake)
    state = _state(engine)
    assert len(state["contacts"]) == 400 - fake.deleted == len(fake.live())
    assert len(state["agents"]) == fake.agents and len(state["memberships"]) == len(fake.memberships()) > 0
    assert all(v[7] is not None for v in state["contacts"].values())  # handle time mapped
    assert {v[0] for v in state["contacts"].values()} == {
        "chat",
        "email",
        "phone",
        "messaging",
        "social",
        "other",
    }
    assert state["csat"] and state["statuses"] and results["conversations"].rows["contact"] >= 395
    assert connector.skipped == {"conversations": 2}  # the bad timestamp and the missing id
    assert all(p == 0 for p in (results["conversations"].placeholders, results["statuses"].placeholders))


def test_resync_changes_nothing_and_rereads_only_the_overlap(engine):
    fake = IntercomFake(seed=4)
    run_sync(engine, _connector(fake))
    before = _state(engine)
    high = max(c["updated_at"] for c in fake.live())
    results = run_sync(engine, _connector(fake))
    assert _state(engine) == before
    overlap = [c for c in fake.convs.values() if c["updated_at"] >= high - OVERLAP_SECONDS]
    assert 0 < results["conversations"].rows["contact"] <= len(overlap) < 50


class _Recording:
    """Wraps a connector and remembers the contact ids it emitted."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.contacts = inner, inner.name, set()

    def streams(self):
        return self.inner.streams()

    def pages(self, stream, cursor):
        for records, next_cursor in self.inner.pages(stream, cursor):
            self.contacts |= {r.external_id for r in records if type(r).__name__ == "ContactRecord"}
            yield records, next_cursor


def test_incremental_sync_picks_up_just_the_changes(engine):
    fake = IntercomFake(seed=5)
    run_sync(engine, _connector(fake))
    high = max(c["updated_at"] for c in fake.live())
    overlap = {c["id"] for c in fake.live() if c["updated_at"] >= high - OVERLAP_SECONDS}
    fake.now += 3600
    added = {fake.add_conversation(when=fake.now - 600)["id"] for _ in range(3)}
    opened = [c["id"] for c in fake.live() if c["state"] == "open" and c["id"] not in overlap][:2]
    for cid in opened:
        fake.update_conversation(cid, fake.now - 60)
    recording = _Recording(_connector(fake))
    run_sync(engine, recording)
    assert added | set(opened) <= recording.contacts <= added | set(opened) | overlap
    _assert_truth(engine, fake)
    state = _state(engine)
    assert all(state["contacts"][cid][7] == 4242 and state["contacts"][cid][6] for cid in opened)
    assert len(state["queue"]) == 2 and len(opened) == 2


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_survived(engine, fault):
    fake = IntercomFake(seed=6, faults={4: fault, 9: fault})  # a conversations page, a status page
    sleeps: list[float] = []
    run_sync(engine, _connector(fake, sleeps))
    _assert_truth(engine, fake)
    clean = IntercomFake(seed=6)
    connector = _connector(clean)
    for stream in connector.streams():
        for _ in connector.pages(stream, None):
            pass
    assert fake.requests == clean.requests + 2  # each fault cost exactly one extra request
    if fault == "429":
        assert sleeps == [float(fake.retry_after)] * 2
    elif fault == "duplicate":
        assert sleeps == [] and fake.log[3] == fake.log[4] and fake.log[8] == fake.log[9]
    else:  # backoff with the injected jitter (0.5 * 1 s), never a real sleep
        assert sleeps == [0.5, 0.5]


def test_crash_between_pages_resumes_without_loss_or_duplicates(engine):
    fake = IntercomFake(seed=7, faults={5: "crash"})  # third conversations page
    with pytest.raises(FakeCrash):
        run_sync(engine, _connector(fake))
    cursor = stored_cursor(engine, "intercom", "conversations")
    assert cursor is not None and json.loads(cursor)["updated_since"] > START
    partial = len(_state(engine)["contacts"])
    assert 0 < partial < len(fake.live())
    recording = _Recording(_connector(fake))
    run_sync(engine, recording)
    assert len(recording.contacts) < len(fake.live())  # resumed, not restarted
    _assert_truth(engine, fake)


def test_crash_in_status_windows_keeps_open_intervals(engine):
    fake = IntercomFake(seed=8, faults={10: "crash"})
    with pytest.raises(FakeCrash):
        run_sync(engine, _connector(fake))
    assert json.loads(stored_cursor(engine, "intercom", "statuses"))["open"]
    run_sync(engine, _connector(fake))
    _assert_truth(engine, fake)


def test_wrong_token_names_the_setting(engine):
    fake = IntercomFake(seed=9)
    with pytest.raises(HelpdeskAuthError) as err:
        run_sync(engine, _connector(fake, token="wrong-token-value"))
    assert "AX_INTERCOM_ACCESS_TOKEN" in str(err.value) and "wrong-token-value" not in str(err.value)
    assert err.value.status == 401 and _state(engine)["teams"] == {}


def test_random_fault_schedules_still_give_ground_truth(engine):
    crashes = 0
    for seed in range(20):
        rng = random.Random(seed)
        faults = {n: rng.choice([*FAULTS, "crash"]) for n in range(1, 40) if rng.random() < 0.3}
        fake = IntercomFake(seed=100 + seed, conversations=200, faults=faults)
        crashes += sync_until_done(
            engine,
            lambda fake=fake: _connector(fake),
            attempts=15,
            crashes=(FakeCrash, HelpdeskError),
            label=f"seed {seed}, faults {faults}",
        )
        state, truth = _state(engine), _truth(fake)
        # one database across seeds: this seed's fake is the truth for what it serves
        assert {k: state["contacts"][k] for k in truth["contacts"]} == truth["contacts"], seed
        assert len(state["contacts"]) == len(truth["contacts"]), seed
        for key in ("agents", "teams", "memberships", "csat", "statuses"):
            assert state[key] == truth[key], (seed, key)
        _reset(engine)
    assert crashes >= 5  # the schedules did interrupt runs, and each resume still converged


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (CsatRating, AgentStatusInterval, QueueSnapshot, Contact, TeamMembership, Agent, Team):
            conn.execute(model.__table__.delete())
        conn.exec_driver_sql("DELETE FROM sync_state")
