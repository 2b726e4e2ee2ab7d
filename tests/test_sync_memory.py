"""Syncing a large history keeps memory bounded: pages are streamed to the store, never collected.

The fake's bulk tickets are built page by page on request, so its ground truth costs nothing and
tracing starts only after it is built. A warm-up sync first fills the one-time caches (compiled
statements, lazy imports) so they count in neither measured sync. Each measured sync starts from
no stored cursor, so it reads its whole history (the second one upserts over the first's rows).

Every httpx response sits in a reference cycle (response <-> its stream) and lives through the
parsing of its page, so it reaches the oldest generation and waits for a full collection. How
many such dead pages pile up depends on the collector's timing, not on the history's length; to
measure what the sync keeps *reachable*, the test heap is frozen and full collections run often
while tracing.
"""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from connectors.contract import run_sync
from connectors.zendesk import ZendeskConfig, build_zendesk
from db.models import Contact, SyncState
from tests.fakes.zendesk import FakeZendesk

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SMALL, LARGE = 5_000, 15_000
PAGE = 100  # small pages keep the per-page working set (what must not grow) small next to the history


def traced_sync(engine: Engine, bulk: int) -> tuple[int, int]:
    """Peak bytes traced while ``run_sync`` reads ``bulk`` history tickets from the start, and
    the number of tickets it must have stored."""
    with engine.begin() as conn:
        conn.execute(delete(SyncState))  # no cursor: a first sync of the whole history
    fake = FakeZendesk(seed=9, bulk_tickets=bulk, page_size=PAGE)
    connector = build_zendesk(
        ZendeskConfig("acme", "admin@acme.test", "tok-secret-123"),
        transport=httpx.MockTransport(fake),
        sleep=lambda _: None,
        now=lambda: NOW,
    )
    gc.collect()
    gc.freeze()  # the test process's own heap out of the collector's way ...
    gc.collect()  # (a full collection now counts only what is not frozen)
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], 1, 1)  # ... so full collections can run often and cheaply
    tracemalloc.start()
    try:
        results = run_sync(engine, connector)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    tickets = bulk + len(fake.tickets) - sum(ext.startswith("ticket:") for ext in fake.malformed)
    assert results["tickets"].rows["contact"] == tickets
    return peak, tickets


def test_peak_memory_does_not_grow_with_history(engine: Engine) -> None:
    traced_sync(engine, 500)  # warm-up: one-time caches count in neither measured sync
    small, _ = traced_sync(engine, SMALL)
    large, tickets = traced_sync(engine, LARGE)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(Contact).where(Contact.external_id.like("ticket:%"))
        ).scalar_one()
    assert stored == tickets  # the larger history includes the smaller one
    assert large < 1.5 * small, (
        f"peak traced memory grew with the history: {small / 1e6:.1f} MB for {SMALL} tickets, "
        f"{large / 1e6:.1f} MB for {LARGE}; pages are being kept instead of streamed"
    )
