"""Sync throughput: the whole Zendesk connector -> ingest path next to ingest alone, same records.

Run with ``.venv/bin/python bench/sync.py [--contacts 200000] [--skip-pg]``.

A :class:`tests.fakes.zendesk.FakeZendesk` with ``--contacts`` bulk tickets (built page by page
on request, on top of its small regular ground truth) is served over real HTTP on localhost
(``tests/fakes/server.py``, a thread in this process) with Zendesk's page size of 1000.
Per back end, each path gets its own freshly migrated database:

- *connector*: ``build_zendesk(ZendeskConfig(base_url=<fake>))`` and ``run_sync`` of every
  stream. Timed: HTTP requests, the fake building and serialising its pages (its share is
  printed), JSON decoding, mapping and ``Ingestor.write_page``. The emitted pages are kept (not
  timed) for the second path.
- *ingest*: the same pages, ``Ingestor(engine, "zendesk").write_page(stream, records, cursor)``
  in the same order and sizes.

PostgreSQL comes from ``AX_BENCH_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
per back end run, throwaway databases ``ax_bench_sync_<pid>_connector`` / ``_ingest`` are created
there and dropped at the end. If the server does not answer, PostgreSQL is skipped.

Rows are records emitted by the connector (the tickets stream dominates). The last line is
``sync_ratio=<connector rows/s ÷ ingest rows/s>``, the worst back end measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select

from bench.common import Timing, bench_pg_url, postgres_answers, throwaway_databases
from connectors.contract import Page, Record, run_sync
from connectors.zendesk import SOURCE, ZendeskConfig, build_zendesk
from db.engine import get_engine
from db.ingest import Ingestor
from db.migrate import upgrade
from db.models import Contact
from tests.fakes.server import serve
from tests.fakes.zendesk import FakeZendesk

PAGE_SIZE = 1000  # Zendesk's incremental export maximum
EMAIL, TOKEN = "admin@acme.test", "tok-secret-123"

StreamPage = tuple[str, Sequence[Record], str | None]


class Recording:
    """The connector as run_sync sees it, keeping each emitted page for the ingest-only path."""

    def __init__(self, inner, pages: list[StreamPage]) -> None:
        self.inner = inner
        self.name = inner.name
        self.recorded = pages

    def streams(self) -> Sequence[str]:
        return self.inner.streams()

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        for records, next_cursor in self.inner.pages(stream, cursor):
            self.recorded.append((stream, records, next_cursor))
            yield records, next_cursor


class TimedHandler:
    """The fake's handler, adding up the time spent inside it (the fake's share of the sync)."""

    def __init__(self, fake: FakeZendesk) -> None:
        self.fake = fake
        self.seconds = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        try:
            return self.fake(request)
        finally:
            self.seconds += time.perf_counter() - start


def contact_count(url: str) -> int:
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Contact)).scalar_one()
    finally:
        engine.dispose()
        get_engine.cache_clear()


def run_connector(url: str, contacts: int) -> tuple[Timing, list[StreamPage], float, int]:
    """(timing, emitted pages, seconds inside the fake, requests served)."""
    fake = FakeZendesk(seed=1, bulk_tickets=contacts, page_size=PAGE_SIZE, email=EMAIL, token=TOKEN)
    handler = TimedHandler(fake)
    pages: list[StreamPage] = []
    engine = get_engine(url)
    try:
        upgrade(engine)  # also leaves a warm connection in the pool
        with serve(handler) as base_url:
            fake.base = base_url
            config = ZendeskConfig("acme", EMAIL, TOKEN, base_url=base_url, page_size=PAGE_SIZE)
            connector = Recording(build_zendesk(config), pages)
            start = time.perf_counter()
            run_sync(engine, connector)
            seconds = time.perf_counter() - start
            connector.inner.http.client.close()
    finally:
        engine.dispose()
        get_engine.cache_clear()
    rows = sum(len(records) for _, records, _ in pages)
    return Timing(rows, seconds), pages, handler.seconds, fake.requests


def run_ingest(url: str, pages: list[StreamPage]) -> Timing:
    engine = get_engine(url)
    try:
        upgrade(engine)
        ingestor = Ingestor(engine, SOURCE)
        rows = 0
        start = time.perf_counter()
        for stream, records, cursor in pages:
            ingestor.write_page(stream, records, cursor)
            rows += len(records)
        return Timing(rows, time.perf_counter() - start)
    finally:
        engine.dispose()
        get_engine.cache_clear()


def bench(backend: str, urls: dict[str, str], contacts: int) -> float:
    connector, pages, fake_seconds, requests = run_connector(urls["connector"], contacts)
    ingest = run_ingest(urls["ingest"], pages)
    del pages
    stored = {kind: contact_count(url) for kind, url in urls.items()}
    if stored["connector"] != stored["ingest"]:
        raise SystemExit(f"{backend}: the two paths stored different contact counts: {stored}")
    ratio = connector.rate / ingest.rate
    share = fake_seconds / connector.seconds if connector.seconds else 0.0
    print(
        f"{backend}: connector {connector.rows:>8} rows {connector.seconds:8.3f} s "
        f"{connector.rate:>10.0f} rows/s  ({requests} requests; "
        f"{fake_seconds:.1f} s = {share:.0%} inside the fake)"
    )
    print(f"{backend}: ingest    {ingest.rows:>8} rows {ingest.seconds:8.3f} s {ingest.rate:>10.0f} rows/s")
    print(f"{backend}: {stored['connector']} contacts stored by each path")
    own = connector.rows / (connector.seconds - fake_seconds)
    print(f"{backend}: ratio connector/ingest = {ratio:.2f}")
    print(f"{backend}: (without the time inside the fake: {own:.0f} rows/s, ratio {own / ingest.rate:.2f})")
    return ratio


def bench_sqlite(contacts: int) -> float:
    with tempfile.TemporaryDirectory(prefix="ax_bench_sync_") as tmp:
        urls = {kind: f"sqlite:///{Path(tmp) / kind}.db" for kind in ("connector", "ingest")}
        return bench("sqlite", urls, contacts)


def bench_pg(url: str, contacts: int) -> float:
    with throwaway_databases(url, "ax_bench_sync", ("connector", "ingest")) as dbs:
        return bench("postgresql", {kind: urls[0] for kind, urls in dbs.items()}, contacts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000, help="bulk tickets the fake serves")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"fake zendesk: {args.contacts} bulk tickets + its small regular ground truth, "
        f"page size {PAGE_SIZE}, real HTTP on localhost"
    )

    ratios = {"sqlite": bench_sqlite(args.contacts)}
    url = bench_pg_url()
    if args.skip_pg:
        print("postgresql: skipped (--skip-pg)")
    elif postgres_answers(url):
        ratios["postgresql"] = bench_pg(url, args.contacts)

    worst = min(ratios, key=ratios.__getitem__)
    print(f"worst back end: {worst}")
    print(f"sync_ratio={ratios[worst]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
