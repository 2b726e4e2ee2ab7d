"""Help Scout connector against the fake API, on SQLite and PostgreSQL: ground truth, faults, resume, auth."""

from __future__ import annotations

import itertools
import json
import logging
import random
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.contract import run_sync, stored_cursor
from connectors.helpscout import RATINGS, HelpScoutConfig, build_helpscout
from connectors.http import HelpdeskAuthError, HelpdeskError
from db.models import Agent, Contact, CsatRating, QueueSnapshot, SyncState, Team, TeamMembership
from tests.fakes.helpscout import FAULTS, RETRY_AFTER, T0, FakeCrash, HelpScoutFake, iso, unix
from tests.fakes.retries import sync_until_done

START = T0 - 86400
CONVERSATIONS = "/v2/conversations"


class Clock:
    """Monotonic time that only moves when the connector sleeps (nothing sleeps for real)."""

    def __init__(self) -> None:
        self.t, self.sleeps = 1000.0, []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _unix(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _connector(fake: HelpScoutFake, clock: Clock | None = None, secret: str | None = None):
    clock = clock or Clock()
    return build_helpscout(
        HelpScoutConfig(fake.app_id, secret or fake.app_secret, start_at=_dt(START)),
        transport=httpx.MockTransport(fake),
        sleep=clock.sleep,
        clock=clock,
        now=lambda: _dt(fake.now),
        token_clock=lambda: float(fake.now),
        wall_clock=lambda: float(fake.now),
        random=lambda: 0.5,
    )


def _state(engine: Engine) -> dict:
    """Everything the Help Scout sync stored, keyed by helpdesk ids."""
    with engine.connect() as conn:

        def rows(model):
            return list(conn.execute(select(model.__table__).where(model.source == "helpscout")))

        agents = {r.id: r for r in rows(Agent)}
        teams = {r.id: r for r in rows(Team)}
        contacts = {
            c.external_id: (
                c.channel,
                _unix(c.created_at),
                _unix(c.updated_at),
                agents[c.agent_id].external_id if c.agent_id else None,
                teams[c.team_id].external_id if c.team_id else None,
                c.queue,
                _unix(c.first_response_at),
                _unix(c.solved_at),
                (c.handle_seconds, c.talk_seconds, c.hold_seconds, c.wrap_seconds),
                c.wait_seconds,
                c.deleted,
            )
            for c in rows(Contact)
        }
        return {
            "agents": {a.external_id: (a.name, a.email, a.timezone, a.deleted) for a in agents.values()},
            "teams": {t.external_id: t.name for t in teams.values()},
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
            "queue": {(q.queue, _unix(q.at), q.waiting, q.longest_wait_seconds) for q in rows(QueueSnapshot)},
        }


def _contact(c: dict, deleted: bool = False) -> tuple:
    created = unix(c["createdAt"])
    assignee = c.get("assignee") or {}
    replies = sorted(
        unix(t["createdAt"])
        for t in c["_embedded"]["threads"]
        if t["type"] == "message" and t["createdBy"]["type"] == "user"
    )
    first = replies[0] if replies else None
    return (
        {"email": "email", "chat": "chat", "phone": "phone"}[c["type"]],
        created,
        unix(c["userUpdatedAt"]),
        str(assignee["id"]) if assignee.get("type") == "user" else None,
        str(assignee["id"]) if assignee.get("type") == "team" else None,
        f"mailbox:{c['mailboxId']}",
        first,
        unix(c["closedAt"]) if c["status"] == "closed" else None,
        (None, None, None, None),
        first - created if first else None,
        deleted,
    )


def _truth(fake: HelpScoutFake) -> dict:
    zones = {"Mars/Olympus_Mons": "UTC"}
    return {
        "agents": {
            uid: (
                f"{u['firstName']} {u['lastName']}",
                u["email"],
                zones.get(u["timezone"], u["timezone"]),
                False,
            )
            for uid, u in fake.users.items()
        },
        "teams": {tid: t["name"] for tid, t in fake.teams.items()},
        "memberships": {(tid, uid) for tid, users in fake.members.items() for uid in users},
        "contacts": {str(c["id"]): _contact(c) for c in fake.live().values()},
        "csat": {
            f"{r['id']}:{r['ratingUserId']}": (
                str(r["id"]),
                RATINGS[r["rating"]],
                unix(r["ratingCreatedAt"]),
                str(r["ratingUserId"]),
            )
            for r in fake.ratings.values()
        },
        "queue": {("open-unassigned", fake.now, *fake.queue())},
    }


def _assert_truth(engine: Engine, fake: HelpScoutFake) -> None:
    state, truth = _state(engine), _truth(fake)
    for key in truth:
        if key == "queue":  # snapshots are a time series: the latest must be there
            assert truth[key] <= state[key]
        else:
            assert state[key] == truth[key], key


def _clean_requests(seed: int, **kw) -> list[str]:
    """Every request a clean first sync makes, in order."""
    probe = HelpScoutFake(seed=seed, **kw)
    connector = _connector(probe)
    for stream in connector.streams():
        for _ in connector.pages(stream, None):
            pass
    return probe.log


def test_config_repr_hides_the_secret_and_base_url_defaults():
    config = HelpScoutConfig("app-id", "app-secret-value")
    assert config.base_url == "https://api.helpscout.net"
    assert "app-secret-value" not in repr(config) and "app-id" in repr(config)


def test_full_sync_equals_ground_truth(engine, caplog):
    caplog.set_level(logging.DEBUG)
    fake = HelpScoutFake(seed=3)
    connector = _connector(fake)
    results = run_sync(engine, connector)
    _assert_truth(engine, fake)
    state = _state(engine)
    assert len(state["contacts"]) == 120 - 4 == len(fake.live())
    assert len(state["agents"]) == 55 and len(state["memberships"]) == 60 and len(state["teams"]) == 3
    assert {v[0] for v in state["contacts"].values()} == {"email", "chat", "phone"}
    # what Help Scout exposes is mapped; handle time is not exposed per conversation and stays None
    assert sum(v[9] is not None for v in state["contacts"].values()) > 40
    assert all(v[8] == (None, None, None, None) for v in state["contacts"].values())
    assert any(v[4] for v in state["contacts"].values())  # team assignees become the contact's team
    assert len(state["csat"]) == len(fake.ratings) > 5
    assert dict(connector.skipped) == {"conversations": 2}  # the bad timestamp and the missing id
    assert all(r.placeholders == 0 for r in results.values())
    assert fake.issued == 1  # one token for the whole sync
    assert fake.app_secret not in caplog.text and "hs-token-1" not in caplog.text and caplog.text
    # the users directory (55 > 50 per page) was read across two pages via _links.next
    assert sum(1 for r in fake.log if r.startswith("GET") and "/v2/users?page=2" in r) == 2  # agents + csat


def test_resync_changes_nothing_and_rereads_only_the_overlap(engine):
    fake = HelpScoutFake(seed=4)
    run_sync(engine, _connector(fake))
    before = _state(engine)
    since = json.loads(stored_cursor(engine, "helpscout", "conversations"))["since"]
    results = run_sync(engine, _connector(fake))
    after = _state(engine)
    assert {k: v for k, v in after.items() if k != "queue"} == {
        k: v for k, v in before.items() if k != "queue"
    }
    overlap = [k for k, m in fake.modified.items() if m >= unix(since)]
    assert 0 < results["conversations"].rows["contact"] <= len(overlap) < 25
    assert json.loads(stored_cursor(engine, "helpscout", "conversations"))["since"] >= since


class _Recording:
    """Wraps a connector and remembers the contact ids (and deletions) it emitted."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.contacts = inner, inner.name, set()

    def streams(self):
        return self.inner.streams()

    def pages(self, stream, cursor):
        for records, next_cursor in self.inner.pages(stream, cursor):
            self.contacts |= {
                r.external_id for r in records if hasattr(r, "external_id") and stream == "conversations"
            }
            yield records, next_cursor


def test_incremental_sync_picks_up_just_the_changes(engine):
    fake = HelpScoutFake(seed=5)
    run_sync(engine, _connector(fake))
    since = unix(json.loads(stored_cursor(engine, "helpscout", "conversations"))["since"])
    overlap = {str(fake.convs[k]["id"]) for k, m in fake.modified.items() if m >= since}
    fake.now += 3600
    added = [fake.add_conversation(when=fake.now - 600) for _ in range(3)]
    old = [k for k, c in fake.live().items() if c["status"] == "active" and str(c["id"]) not in overlap]
    fake.reply(old[0], fake.now - 120)
    fake.trash(old[1], fake.now - 60)
    changed = {str(fake.convs[k]["id"]) for k in [*added, old[0], old[1]]}
    recording = _Recording(_connector(fake))
    run_sync(engine, recording)
    assert changed <= recording.contacts <= changed | overlap
    state, truth = _state(engine), _truth(fake)
    trashed = str(fake.convs[old[1]]["id"])
    truth["contacts"][trashed] = _contact(fake.convs[old[1]], deleted=True)  # kept, marked deleted
    assert state["contacts"] == truth["contacts"]
    assert state["contacts"][trashed][10] is True
    replied = state["contacts"][str(fake.convs[old[0]]["id"])]
    assert replied[7] == fake.now - 120 and replied[2] == fake.now - 120
    assert len(state["queue"]) == 2


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_survived(engine, fault):
    clean = _clean_requests(6)
    # two GET page requests that each follow a different GET page (so a replay is visibly wrong):
    # the second users page and the third conversations page
    targets = [
        n
        for n, (prev, cur) in enumerate(itertools.pairwise(clean), start=2)
        if cur.startswith("GET")
        and prev.startswith("GET")
        and prev != cur
        and (("/v2/users?page=2" in cur) or (CONVERSATIONS + "?" in cur and "status=all" in cur))
    ]
    users_page2 = targets[0]
    conv_page3 = [n for n in targets if CONVERSATIONS in clean[n - 1]][2]
    fake = HelpScoutFake(seed=6, faults={users_page2: fault, conv_page3: fault})
    clock = Clock()
    run_sync(engine, _connector(fake, clock))
    _assert_truth(engine, fake)
    extra = 2 if fault == "expire_token" else 1  # a revoked token costs the 401 and a token request
    assert fake.requests == len(clean) + 2 * extra
    if fault == "429":
        assert clock.sleeps == [float(RETRY_AFTER)] * 2  # X-RateLimit-Retry-After, waited once each
    elif fault in ("duplicate", "expire_token"):
        assert clock.sleeps == []
        assert fake.issued == (3 if fault == "expire_token" else 1)
    else:  # backoff with the injected jitter (0.5 * 1 s), never a real sleep
        assert clock.sleeps == [0.5, 0.5]


def test_conversation_modified_mid_sync_does_not_shift_an_unread_one_away():
    fake = HelpScoutFake(seed=14, malformed=False)
    pages = _connector(fake).pages("conversations", None)
    seen: set[str] = set()
    records, _ = next(pages)
    seen |= {r.external_id for r in records}
    # an agent answers a conversation already read: it moves to the end of the modifiedAt order,
    # and with plain page numbers the first unread conversation would slide onto page 1
    fake.reply(min(fake.live(), key=lambda k: fake.modified[k]), fake.now)
    for records, _ in pages:
        seen |= {r.external_id for r in records}
    assert seen == {str(c["id"]) for c in fake.live().values()}


def test_token_is_renewed_before_it_expires(engine):
    fake = HelpScoutFake(seed=7, token_ttl=3600)
    run_sync(engine, _connector(fake))
    fake.now += 3600 - 30  # inside the renewal margin: the old token still works but is replaced
    connector = _connector(fake)
    run_sync(engine, connector)
    fake.now += 3600 - 30
    run_sync(engine, connector)  # the same connector renews its own token
    assert fake.issued == 3
    assert not any(" 401" in line for line in fake.log)
    _assert_truth(engine, fake)


def test_crash_between_pages_resumes_without_loss_or_duplicates(engine):
    clean = _clean_requests(8)
    conv_pages = [n for n, line in enumerate(clean, start=1) if "status=all" in line]
    fake = HelpScoutFake(seed=8, faults={conv_pages[2]: "crash"})
    with pytest.raises(FakeCrash):
        run_sync(engine, _connector(fake))
    cursor = json.loads(stored_cursor(engine, "helpscout", "conversations"))
    assert unix(cursor["since"]) > START
    partial = len(_state(engine)["contacts"])
    assert 0 < partial < len(fake.live())
    served = len(fake.log)
    run_sync(engine, _connector(fake))
    resumed = [line for line in fake.log[served:] if "status=all" in line]
    assert len(resumed) < len(conv_pages)  # resumed after the stored page, not restarted
    _assert_truth(engine, fake)
    assert len(_state(engine)["contacts"]) == len(fake.live())


def test_crash_inside_the_csat_window_resumes_at_the_same_user(engine):
    clean = _clean_requests(9)
    rating_requests = [n for n, line in enumerate(clean, start=1) if "/reports/user/ratings" in line]
    fake = HelpScoutFake(seed=9, faults={rating_requests[20]: "crash"})
    with pytest.raises(FakeCrash):
        run_sync(engine, _connector(fake))
    cursor = json.loads(stored_cursor(engine, "helpscout", "csat"))
    assert cursor["user"] and cursor["end"] == iso(fake.now)
    run_sync(engine, _connector(fake))
    _assert_truth(engine, fake)
    assert json.loads(stored_cursor(engine, "helpscout", "csat")) == {"start": iso(fake.now - 300)}


def test_wrong_secret_names_the_setting(engine):
    fake = HelpScoutFake(seed=10)
    with pytest.raises(HelpdeskAuthError) as err:
        run_sync(engine, _connector(fake, secret="wrong-secret-value"))
    message = str(err.value)
    assert "AX_HELPSCOUT_APP_SECRET" in message and "wrong-secret-value" not in message
    assert err.value.status == 401 and _state(engine)["agents"] == {}
    assert fake.log == ["POST https://api.helpscout.net/v2/oauth2/token"]


def test_token_rejected_again_after_one_refresh_is_an_auth_error():
    fake = HelpScoutFake(seed=11)
    pages = _connector(fake).pages("agents", None)
    next(pages)
    fake.tokens.clear()  # the token is revoked mid-stream ...
    fake.token_ttl = -1  # ... and every new one is dead on arrival
    with pytest.raises(HelpdeskAuthError) as err:
        next(pages)
    assert "AX_HELPSCOUT_APP_ID" in str(err.value) and err.value.status == 401
    # token, page 1; then page 2 -> 401, one new token, page 2 -> 401 again: it stops there
    assert [line.split()[0] for line in fake.log] == ["POST", "GET", "GET", "POST", "GET"]


def test_missing_reports_plan_skips_csat_only(engine):
    fake = HelpScoutFake(seed=12, reports=False)
    run_sync(engine, _connector(fake))
    state, truth = _state(engine), _truth(fake)
    assert state["csat"] == {} and state["contacts"] == truth["contacts"]
    assert truth["queue"] <= state["queue"]


def test_next_page_on_another_host_is_not_followed(engine):
    fake = HelpScoutFake(seed=13)
    real = fake._hal

    def hostile(request, key, items, size):
        body = real(request, key, items, size)
        if "next" in body["_links"]:
            body["_links"]["next"]["href"] = "https://evil.example/v2/users?page=2"
        return body

    fake._hal = hostile
    with pytest.raises(HelpdeskError, match="another host"):
        run_sync(engine, _connector(fake))
    assert not any("evil.example" in line for line in fake.log)


def test_random_fault_schedules_still_give_ground_truth(engine):
    crashes = 0
    for seed in range(20):
        rng = random.Random(seed)
        faults = {n: rng.choice([*FAULTS, "crash"]) for n in range(1, 45) if rng.random() < 0.25}
        fake = HelpScoutFake(seed=100 + seed, agents=12, conversations=80, faults=faults)
        crashes += sync_until_done(
            engine,
            lambda fake=fake: _connector(fake),
            attempts=15,
            crashes=(FakeCrash, HelpdeskError),
            label=f"seed {seed}, faults {faults}",
        )
        state, truth = _state(engine), _truth(fake)
        for key in ("agents", "teams", "memberships", "contacts", "csat"):
            assert state[key] == truth[key], (seed, key)
        assert truth["queue"] <= state["queue"], seed
        _reset(engine)
    assert crashes >= 5  # the schedules did interrupt runs, and each resume still converged


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (CsatRating, QueueSnapshot, Contact, TeamMembership, Agent, Team, SyncState):
            conn.execute(model.__table__.delete())
