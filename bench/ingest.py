"""Demo-data ingest throughput: the project path (``Ingestor.write_page``) next to the raw driver.

Run with ``.venv/bin/python bench/ingest.py [--agents 60] [--days 30] [--repeat 1]
[--pg-raw executemany|copy] [--skip-pg]``.

The demo records are generated once in memory (not timed). Per back end, each path gets its own
freshly migrated database:

- *project*: ``db.ingest.Ingestor(engine, "demo").write_page(stream, records, cursor)`` for every
  page, through the project's own engine (``db.engine.get_engine``).
- *raw*: the same rows, prepared as tuples before timing starts (foreign-key ids assigned up
  front, teams/agents/surveys inserted first with those ids), written with the bare DB-API
  driver: ``sqlite3`` ``executemany`` of a plain INSERT, and psycopg 3 ``executemany`` of a plain
  INSERT (or ``COPY`` with ``--pg-raw copy``). Like the project path, it commits once per page.

PostgreSQL comes from ``AX_BENCH_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
per run, two throwaway databases ``ax_bench_<pid>_<run>_project`` / ``_raw`` are created there
and dropped at the end. If the server does not answer, PostgreSQL is skipped.

The last line is ``ingest_ratio=<project rows/s ÷ raw rows/s>``, the worst back end measured.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import Timing, bench_pg_url, postgres_answers, throwaway_databases
from connectors.demo import DemoHelpdesk
from db import records as r
from db.engine import get_engine
from db.ingest import Ingestor
from db.migrate import upgrade

SOURCE = "demo"
END = date(2025, 3, 31)
NOW = datetime(2025, 3, 31, 18, 0, tzinfo=UTC)

Page = tuple[str, Sequence[r.Record], str | None]
# One table's share of one page for the raw path: (table, columns, rows as tuples).
RawBatch = tuple[str, tuple[str, ...], list[tuple[Any, ...]]]

DATA_TABLES = (
    "team",
    "agent",
    "team_membership",
    "pulse_survey",
    "contact",
    "work_segment",
    "agent_status_interval",
    "queue_snapshot",
    "csat_rating",
    "pulse_answer",
)


def generate(agents: int, days: int) -> list[Page]:
    helpdesk = DemoHelpdesk(agents=agents, days=days, seed=7, end=END, now=NOW)
    return [
        (stream, list(records), cursor)
        for stream in helpdesk.streams()
        for records, cursor in helpdesk.pages(stream, None)
    ]


# --- raw rows ----------------------------------------------------------------------------------


def _sqlite_ts(value: datetime | None) -> str | None:
    """What SQLAlchemy stores for a UTC timestamp on SQLite (naive UTC text)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_ts(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def prepare_raw(pages: list[Page], ts: Callable[[datetime | None], Any]) -> list[list[RawBatch]]:
    """Per page, the rows of each table as tuples, foreign keys already resolved to row ids."""
    team_ids: dict[str, int] = {}
    agent_ids: dict[str, int] = {}
    survey_ids: dict[str, int] = {}
    for _, records, _ in pages:
        for rec in records:
            if isinstance(rec, r.TeamRecord):
                team_ids.setdefault(rec.external_id, len(team_ids) + 1)
            elif isinstance(rec, r.AgentRecord):
                agent_ids.setdefault(rec.external_id, len(agent_ids) + 1)
            elif isinstance(rec, r.SurveyRecord):
                survey_ids.setdefault(rec.key, len(survey_ids) + 1)

    def opt(ids: dict[str, int], ext: str | None) -> int | None:
        return ids[ext] if ext else None

    s = SOURCE
    # record type -> (table, columns, row builder), in the project's dependency order
    spec: list[tuple[type, str, tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = [
        (
            r.TeamRecord,
            "team",
            ("id", "source", "external_id", "name", "site", "parent_id", "deleted"),
            lambda t: (
                team_ids[t.external_id],
                s,
                t.external_id,
                t.name,
                t.site,
                opt(team_ids, t.parent_external_id),
                t.deleted,
            ),
        ),
        (
            r.AgentRecord,
            "agent",
            (
                "id",
                "source",
                "external_id",
                "name",
                "email",
                "timezone",
                "scheduled_hours_per_day",
                "active",
                "deleted",
            ),
            lambda a: (
                agent_ids[a.external_id],
                s,
                a.external_id,
                a.name,
                a.email,
                a.timezone,
                a.scheduled_hours_per_day,
                a.active,
                a.deleted,
            ),
        ),
        (
            r.MembershipRecord,
            "team_membership",
            ("source", "external_id", "team_id", "agent_id", "deleted"),
            lambda x: (
                s,
                x.external_id,
                team_ids[x.team_external_id],
                agent_ids[x.agent_external_id],
                x.deleted,
            ),
        ),
        (
            r.SurveyRecord,
            "pulse_survey",
            ("id", "key", "title", "instrument", "opens_at", "closes_at"),
            lambda v: (survey_ids[v.key], v.key, v.title, v.instrument, ts(v.opens_at), ts(v.closes_at)),
        ),
        (
            r.ContactRecord,
            "contact",
            (
                "source",
                "external_id",
                "channel",
                "queue",
                "team_id",
                "agent_id",
                "created_at",
                "first_response_at",
                "solved_at",
                "updated_at",
                "handle_seconds",
                "talk_seconds",
                "hold_seconds",
                "wrap_seconds",
                "wait_seconds",
                "csat",
                "sentiment",
                "escalated",
                "reopened",
                "deleted",
            ),
            lambda c: (
                s,
                c.external_id,
                c.channel,
                c.queue,
                opt(team_ids, c.team_external_id),
                opt(agent_ids, c.agent_external_id),
                ts(c.created_at),
                ts(c.first_response_at),
                ts(c.solved_at),
                ts(c.updated_at),
                c.handle_seconds,
                c.talk_seconds,
                c.hold_seconds,
                c.wrap_seconds,
                c.wait_seconds,
                c.csat,
                c.sentiment,
                c.escalated,
                c.reopened,
                c.deleted,
            ),
        ),
        (
            r.WorkSegmentRecord,
            "work_segment",
            (
                "source",
                "external_id",
                "agent_id",
                "contact_external_id",
                "started_at",
                "ended_at",
                "kind",
                "deleted",
            ),
            lambda w: (
                s,
                w.external_id,
                agent_ids[w.agent_external_id],
                w.contact_external_id,
                ts(w.started_at),
                ts(w.ended_at),
                w.kind,
                w.deleted,
            ),
        ),
        (
            r.StatusIntervalRecord,
            "agent_status_interval",
            ("source", "external_id", "agent_id", "status", "started_at", "ended_at", "deleted"),
            lambda i: (
                s,
                i.external_id,
                agent_ids[i.agent_external_id],
                i.status,
                ts(i.started_at),
                ts(i.ended_at),
                i.deleted,
            ),
        ),
        (
            r.QueueSnapshotRecord,
            "queue_snapshot",
            (
                "source",
                "external_id",
                "queue",
                "team_id",
                "at",
                "waiting",
                "longest_wait_seconds",
                "agents_online",
                "agents_available",
                "deleted",
            ),
            lambda q: (
                s,
                q.external_id,
                q.queue,
                opt(team_ids, q.team_external_id),
                ts(q.at),
                q.waiting,
                q.longest_wait_seconds,
                q.agents_online,
                q.agents_available,
                q.deleted,
            ),
        ),
        (
            r.CsatRecord,
            "csat_rating",
            ("source", "external_id", "contact_external_id", "agent_id", "score", "rated_at", "deleted"),
            lambda c: (
                s,
                c.external_id,
                c.contact_external_id,
                opt(agent_ids, c.agent_external_id),
                c.score,
                ts(c.rated_at),
                c.deleted,
            ),
        ),
        (
            r.PulseAnswerRecord,
            "pulse_answer",
            (
                "source",
                "external_id",
                "survey_id",
                "agent_id",
                "item_key",
                "value",
                "text",
                "answered_at",
                "deleted",
            ),
            lambda a: (
                s,
                a.external_id,
                survey_ids[a.survey_key],
                agent_ids[a.agent_external_id],
                a.item_key,
                a.value,
                a.text,
                ts(a.answered_at),
                a.deleted,
            ),
        ),
    ]
    out: list[list[RawBatch]] = []
    for _, records, _ in pages:
        by_type: dict[type, list[Any]] = defaultdict(list)
        for rec in records:
            by_type[type(rec)].append(rec)
        out.append(
            [
                (table, cols, [build(x) for x in by_type[kind]])
                for kind, table, cols, build in spec
                if by_type[kind]
            ]
        )
    return out


# --- the two paths -----------------------------------------------------------------------------


def run_project(url: str, pages: list[Page]) -> Timing:
    engine = get_engine(url)
    try:
        upgrade(engine)  # also leaves a warm connection in the pool
        ingestor = Ingestor(engine, SOURCE)
        rows = 0
        start = time.perf_counter()
        for stream, records, cursor in pages:
            rows += ingestor.write_page(stream, records, cursor).total
        return Timing(rows, time.perf_counter() - start)
    finally:
        engine.dispose()
        get_engine.cache_clear()


def _migrate(url: str) -> None:
    engine = get_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
        get_engine.cache_clear()


def run_raw_sqlite(path: Path, batches: list[list[RawBatch]]) -> Timing:
    _migrate(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    try:
        # the same pragmas the project's engine sets (db/engine.py)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        statements = {
            (table, cols): f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for page in batches
            for table, cols, _ in page
        }
        rows = 0
        start = time.perf_counter()
        for page in batches:
            with conn:  # one transaction per page, like write_page
                for table, cols, values in page:
                    conn.executemany(statements[table, cols], values)
                    rows += len(values)
        return Timing(rows, time.perf_counter() - start)
    finally:
        conn.close()


def run_raw_pg(conninfo: str, url: str, batches: list[list[RawBatch]], mode: str) -> Timing:
    _migrate(url)
    with psycopg.connect(conninfo) as conn:
        rows = 0
        start = time.perf_counter()
        for page in batches:
            with conn.transaction(), conn.cursor() as cur:  # one transaction per page
                for table, cols, values in page:
                    if mode == "copy":
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in values:
                                copy.write_row(row)
                    else:
                        marks = ", ".join(["%s"] * len(cols))
                        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
                    rows += len(values)
        return Timing(rows, time.perf_counter() - start)


# --- checks ------------------------------------------------------------------------------------


def table_counts_sqlite(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}


def table_counts_pg(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES}


def check_same(backend: str, project: dict[str, int], raw: dict[str, int]) -> None:
    if project != raw:
        diff = {t: (project[t], raw[t]) for t in DATA_TABLES if project[t] != raw[t]}
        raise SystemExit(f"{backend}: project and raw paths wrote different row counts: {diff}")


# --- back ends ---------------------------------------------------------------------------------


def bench_sqlite(pages: list[Page], batches: list[list[RawBatch]]) -> tuple[Timing, Timing]:
    with tempfile.TemporaryDirectory(prefix="ax_bench_") as tmp:
        project_db, raw_db = Path(tmp) / "project.db", Path(tmp) / "raw.db"
        project = run_project(f"sqlite:///{project_db}", pages)
        raw = run_raw_sqlite(raw_db, batches)
        check_same("sqlite", table_counts_sqlite(project_db), table_counts_sqlite(raw_db))
    return project, raw


def bench_pg(
    url: str, pages: list[Page], batches: list[list[RawBatch]], mode: str, run: int
) -> tuple[Timing, Timing]:
    with throwaway_databases(url, f"ax_bench_{run}", ("project", "raw")) as dbs:
        (project_url, project_info), (raw_url, raw_info) = dbs["project"], dbs["raw"]
        project = run_project(project_url, pages)
        raw = run_raw_pg(raw_info, raw_url, batches, mode)
        check_same("postgresql", table_counts_pg(project_info), table_counts_pg(raw_info))
    return project, raw


def report(backend: str, how: str, project: Timing, raw: Timing) -> float:
    ratio = project.rate / raw.rate
    print(f"{backend}: project {project.rows:>8} rows {project.seconds:8.3f} s {project.rate:>10.0f} rows/s")
    print(f"{backend}: raw     {raw.rows:>8} rows {raw.seconds:8.3f} s {raw.rate:>10.0f} rows/s  ({how})")
    print(f"{backend}: ratio project/raw = {ratio:.2f}")
    return ratio


def best(runs: list[tuple[Timing, Timing]]) -> tuple[Timing, Timing]:
    return min((p for p, _ in runs), key=lambda t: t.seconds), min(
        (w for _, w in runs), key=lambda t: t.seconds
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="runs per back end; the best time counts")
    parser.add_argument("--pg-raw", choices=("executemany", "copy"), default="executemany")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pages = generate(args.agents, args.days)
    n_records = sum(len(records) for _, records, _ in pages)
    print(
        f"demo data: {args.agents} agents, {args.days} days, {len(pages)} pages, {n_records} records "
        f"(generated in {time.perf_counter() - started:.1f} s, not timed)"
    )

    ratios: dict[str, float] = {}
    sqlite_batches = prepare_raw(pages, _sqlite_ts)
    runs = [bench_sqlite(pages, sqlite_batches) for _ in range(args.repeat)]
    ratios["sqlite"] = report("sqlite", "sqlite3 executemany, plain INSERT", *best(runs))

    url = bench_pg_url()
    if args.skip_pg:
        print("postgresql: skipped (--skip-pg)")
    elif postgres_answers(url):
        pg_batches = prepare_raw(pages, _pg_ts)
        how = (
            "psycopg 3 COPY FROM STDIN"
            if args.pg_raw == "copy"
            else "psycopg 3 cursor.executemany, plain INSERT"
        )
        runs = [bench_pg(url, pages, pg_batches, args.pg_raw, run) for run in range(args.repeat)]
        ratios["postgresql"] = report("postgresql", how, *best(runs))

    worst = min(ratios, key=ratios.__getitem__)
    print(f"worst back end: {worst}; goal ingest_ratio >= 0.5")
    print(f"ingest_ratio={ratios[worst]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
