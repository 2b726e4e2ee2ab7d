"""The connector contract: read this first to write a connector.

A connector names its streams and yields, per stream, pages of normalized records (see
:mod:`db.records`) each with the cursor that resumes *after* that page. It never writes SQL:
:func:`run_sync` hands every page to :class:`db.ingest.Ingestor`, which stores the records and
the cursor in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine

from db.ingest import Ingestor, PageResult, record_sync_error
from db.models import SyncState
from db.records import (  # noqa: F401  (re-exported: the record types are part of the contract)
    AgentRecord,
    ContactRecord,
    CsatRecord,
    DeletionRecord,
    MembershipRecord,
    PulseAnswerRecord,
    QueueSnapshotRecord,
    Record,
    StatusIntervalRecord,
    SurveyRecord,
    TeamRecord,
    WorkSegmentRecord,
)

Page = tuple[Sequence[Record], str | None]


class Connector(Protocol):
    """What every source offers to the sync engine."""

    name: str

    def streams(self) -> Sequence[str]:
        """Stream names in the order they must run (directory before activity)."""
        ...

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Pages of records after ``cursor`` (None: from the start), each with its resume cursor."""
        ...


ProgressCallback = Callable[[str, PageResult], None]


def stored_cursor(engine: Engine, source: str, stream: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(SyncState.__table__.c.cursor).where(
                SyncState.__table__.c.source == source, SyncState.__table__.c.stream == stream
            )
        ).scalar_one_or_none()


def run_sync(
    engine: Engine,
    connector: Connector,
    *,
    batch_size: int = 5000,
    progress: ProgressCallback | None = None,
) -> dict[str, PageResult]:
    """Sync every stream of ``connector`` from its stored cursor; returns rows written per stream."""
    ingestor = Ingestor(engine, connector.name, batch_size=batch_size)
    results: dict[str, PageResult] = {}
    for stream in connector.streams():
        total = PageResult()
        try:
            for records, cursor in connector.pages(stream, stored_cursor(engine, connector.name, stream)):
                page = ingestor.write_page(stream, records, cursor)
                total.add(page)
                if progress:
                    progress(stream, page)
        except Exception as exc:
            record_sync_error(engine, connector.name, stream, f"{type(exc).__name__}: {exc}")
            raise
        results[stream] = total
    return results
