"""Indicator compute cost: a full and a one-day incremental ``run_compute`` next to one plain SQL aggregate.

Run with ``.venv/bin/python bench/compute.py [--agents 1000] [--days 90] [--stages] [--profile]
[--keep [--reuse]] [--skip-pg]``.

Per back end, a freshly migrated database is filled with demo data through the real path
(``DemoHelpdesk`` + ``connectors.contract.run_sync``; timed for information only). Then, on that
database:

- *full*: ``ax.compute.run_compute(engine, full=True)``, every agent-day, derived column, risk
  level and team-day rebuilt;
- *raw*: the yardstick, one hand-written aggregate over the same contacts, every row fetched
  (:data:`RAW_SQL`); timed before and after the full recompute, the faster of the two counts;
- *incremental*: the demo source is synced once more with ``end`` one day later (the connector
  resumes from its stored cursors, which stay on the day before ``end``: the last day is sent
  again and the new day arrives), then ``run_compute(engine)`` rebuilds the agents touched.

``ax.compute.WATERMARK_MARGIN`` (rows synced up to 10 min before the last run are read again, for
syncs that commit while a compute runs) is patched to zero here: nothing syncs concurrently, and
with everything just loaded the margin would turn the incremental run into a full one.

``--stages`` splits both compute runs by stage, by wrapping the functions ``run_compute`` calls
(``_plan``, ``rebuild_agent_days``, ``update_derived``, ``rebuild_risk``, ``compute_team_days``;
*other* is the rest: commits, state, anything between stages), and lists the slowest SQL
statements (``--statements N``). ``--profile`` runs one more full recompute under cProfile and
prints where it spends its time.

Loading 1,000 agents × 90 days takes minutes per back end. ``--keep`` keeps the loaded database
(SQLite file in ``--keep-dir``, PostgreSQL database ``ax_bench_compute_<agents>x<days>``) as a
snapshot; ``--reuse`` skips loading when that snapshot exists. Each run works on a copy of the
snapshot, so it always starts from the state right after loading. A snapshot kept by an older
version of AX is first migrated in place to the newest schema (``upgrade_snapshot``: the
migrations backfill what ingest now stamps on each row), then compacted and analyzed (``VACUUM``,
as a fresh load would be: the backfill rewrites every contact row), and the line saying so gives
the revisions and the time it took (informational, once per snapshot).

PostgreSQL comes from ``AX_BENCH_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
the work database ``ax_bench_compute_<pid>_work`` is created there and dropped at the end, and
``VACUUM (ANALYZE)`` runs after loading, as autovacuum does soon after a bulk load (since
PostgreSQL 13 inserts alone trigger it): it also sets the visibility map, without which the
compute's index-only scans of ``ix_contact_agent_work`` fall back to reading the table (a
snapshot kept before this was done needs one ``VACUUM`` by hand). If the server does not answer,
PostgreSQL is skipped.

The last lines are ``incremental_seconds=<slowest back end>`` and
``compute_ratio=<full recompute s ÷ raw aggregate s>``, the worst back end measured.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from alembic import command
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine, make_url

import ax.compute
from ax.compute import ComputeResult, run_compute
from bench.common import Timing, bench_pg_url, engine_for, postgres_answers, settle, throwaway_databases
from connectors.contract import run_sync
from connectors.demo import DemoHelpdesk
from db.migrate import alembic_config, current_revision, head_revision, upgrade
from db.models import AgentStatusInterval, Contact

SEED = 7
END = date(2025, 3, 31)  # a Monday: the incremental day is a working Tuesday
BATCH_SIZE = 5000
PREFIX = "ax_bench_compute"

# The yardstick, per dialect: contacts and handle time per agent and UTC day.
RAW_SQL = {
    "sqlite": (
        "SELECT agent_id, date(created_at) AS day, count(*), sum(handle_seconds) "
        "FROM contact WHERE deleted = false GROUP BY agent_id, day"
    ),
    "postgresql": (
        "SELECT agent_id, (created_at AT TIME ZONE 'UTC')::date AS day, count(*), sum(handle_seconds) "
        "FROM contact WHERE deleted = false GROUP BY agent_id, day"
    ),
}

# Stage label -> the name run_compute calls it by in ax.compute.
STAGES = {
    "plan": "_plan",
    "agent-days": "rebuild_agent_days",
    "derived": "update_derived",
    "risk": "rebuild_risk",
    "team-days": "compute_team_days",
}


def day_end(day: date) -> datetime:
    """The last moment of ``day`` (UTC): everything the demo has for that day has happened."""
    return datetime.combine(day, clock(23, 59, 59), UTC)


def helpdesk(agents: int, days: int, extra_days: int = 0) -> DemoHelpdesk:
    """The demo source, ``extra_days`` after the initial load (same first day, same roster)."""
    end = END + timedelta(days=extra_days)
    return DemoHelpdesk(agents=agents, days=days + extra_days, seed=SEED, end=end, now=day_end(end))


@dataclass
class Measured:
    backend: str
    full: Timing
    raw: Timing
    incremental: Timing

    @property
    def ratio(self) -> float:
        return self.full.seconds / self.raw.seconds if self.raw.seconds else float("inf")


# --- loading and snapshots ---------------------------------------------------------------------


def load(url: str, agents: int, days: int) -> Timing:
    """Migrate and sync the demo source through ``run_sync``; rows are the records written."""
    with engine_for(url) as engine:
        upgrade(engine)
        start = time.perf_counter()
        results = run_sync(engine, helpdesk(agents, days), batch_size=BATCH_SIZE)
        seconds = time.perf_counter() - start
        settle(engine, vacuum=True)
    return Timing(sum(result.total for result in results.values()), seconds)


def upgrade_snapshot(backend: str, url: str) -> None:
    """Migrate a kept snapshot to the newest revision, then compact and analyze it.

    SQLite runs the migrations with foreign keys off, as Alembic advises for batch operations:
    they rebuild tables (0003 rebuilds ``pulse_survey``) and with foreign keys on, dropping the
    old table fails while ``pulse_answer`` rows point at it.
    """
    with engine_for(url) as engine:
        before, head = current_revision(engine), head_revision()
        if before == head:
            return
        start = time.perf_counter()
        with engine.connect() as conn:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        migrated = time.perf_counter() - start
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("VACUUM (FULL, ANALYZE)")
                # A rewrite leaves the visibility map empty: plain VACUUM sets it again, as
                # autovacuum keeps it on a live store (index-only scans depend on it).
                conn.exec_driver_sql("VACUUM")
            else:
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    print(
        f"{backend}: snapshot upgraded {before} -> {head}: migrations {migrated:.1f} s, then VACUUM "
        f"{time.perf_counter() - start - migrated:.1f} s (once; informational)"
    )


def print_load(backend: str, timing: Timing | None, where: str) -> None:
    if timing is None:
        print(f"{backend}: load      skipped, reusing {where}")
    else:
        print(
            f"{backend}: load    {timing.seconds:8.1f} s  {timing.rows} records, {timing.rate:.0f} records/s "
            f"(run_sync, batch size {BATCH_SIZE}; informational){f', kept as {where}' if where else ''}"
        )


def sqlite_work_file(tmp: Path, args: argparse.Namespace) -> tuple[Path, Timing | None, str]:
    """The SQLite file to measure on: loaded in ``tmp``, or a copy of the kept snapshot."""
    work = tmp / "compute.db"
    if not args.keep:
        return work, load(f"sqlite:///{work}", args.agents, args.days), ""
    snapshot = Path(args.keep_dir) / f"{PREFIX}_{args.agents}x{args.days}.db"
    timing = None
    if not (args.reuse and snapshot.exists()):
        loading = snapshot.with_suffix(".loading")
        for leftover in (loading, *(Path(f"{loading}{s}") for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        timing = load(f"sqlite:///{loading}", args.agents, args.days)
        loading.replace(snapshot)  # only a complete load becomes the snapshot
    else:
        upgrade_snapshot("sqlite", f"sqlite:///{snapshot}")
    shutil.copyfile(snapshot, work)
    return work, timing, str(snapshot)


def bench_sqlite(args: argparse.Namespace) -> Measured:
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}_") as tmp:
        work, timing, where = sqlite_work_file(Path(tmp), args)
        print_load("sqlite", timing, where)
        return measure("sqlite", f"sqlite:///{work}", args)


def _database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@contextmanager
def pg_copy_of_snapshot(url: str, args: argparse.Namespace) -> Iterator[tuple[str, Timing | None, str]]:
    """A work database cloned from the kept snapshot (loaded first unless reused); dropped after."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    snapshot = f"{PREFIX}_{args.agents}x{args.days}"
    loading, work = f"{snapshot}_loading", f"{PREFIX}_{os.getpid()}_work"
    timing = None
    with psycopg.connect(admin, autocommit=True) as conn:
        if not (args.reuse and _database_exists(conn, snapshot)):
            conn.execute(f'DROP DATABASE IF EXISTS "{loading}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{loading}"')
            timing = load(
                parsed.set(database=loading).render_as_string(hide_password=False), args.agents, args.days
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{snapshot}" WITH (FORCE)')
            conn.execute(f'ALTER DATABASE "{loading}" RENAME TO "{snapshot}"')
        else:
            upgrade_snapshot(
                "postgresql", parsed.set(database=snapshot).render_as_string(hide_password=False)
            )
        conn.execute(f'CREATE DATABASE "{work}" TEMPLATE "{snapshot}"')
    try:
        yield parsed.set(database=work).render_as_string(hide_password=False), timing, f"database {snapshot}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{work}" WITH (FORCE)')


def bench_pg(url: str, args: argparse.Namespace) -> Measured:
    if args.keep:
        with pg_copy_of_snapshot(url, args) as (work_url, timing, where):
            print_load("postgresql", timing, where)
            return measure("postgresql", work_url, args)
    with throwaway_databases(url, PREFIX, ("work",)) as dbs:
        work_url = dbs["work"][0]
        print_load("postgresql", load(work_url, args.agents, args.days), "")
        return measure("postgresql", work_url, args)


# --- measuring ---------------------------------------------------------------------------------


def counts(engine: Engine) -> tuple[int, int]:
    """(contacts, status intervals) stored."""
    with engine.connect() as conn:
        contacts = conn.execute(select(func.count()).select_from(Contact)).scalar_one()
        statuses = conn.execute(select(func.count()).select_from(AgentStatusInterval)).scalar_one()
    return contacts, statuses


def raw_aggregate(engine: Engine) -> Timing:
    """The yardstick on the project's engine: rows are the groups fetched."""
    with engine.connect() as conn:
        start = time.perf_counter()
        rows = conn.exec_driver_sql(RAW_SQL[engine.dialect.name]).fetchall()
        return Timing(len(rows), time.perf_counter() - start)


def gist(statement: str) -> str:
    """A statement's opening words, enough to tell the compute's statements apart."""
    words = " ".join(statement.split())
    target = re.search(r"\b(INSERT INTO \w+|UPDATE \w+ SET|DELETE FROM \w+)", words)
    if words.startswith("WITH") and target:  # a statement behind its CTEs: name what it writes
        words = f"{target.group(1)} ... {words}"
    return words if len(words) <= 72 else words[:69] + "..."


class StageClock:
    """Seconds per stage, and per SQL statement, of the ``run_compute`` calls made while installed.

    Stages are timed by wrapping the functions ax.compute calls (so they run exactly as in
    production); statements by the engine's cursor events (execute time only: on SQLite a SELECT
    read row by row does part of its work while its rows are fetched). On PostgreSQL
    ``run_compute`` rebuilds batches side by side (``ax.compute.PARALLEL_BATCHES``): each thread's
    stage and statement times are added up, so the stages of a run can add up to more than its
    wall time; the printed line then says so and leaves *other* out.
    """

    def __init__(self) -> None:
        self.stages = dict.fromkeys(STAGES, 0.0)
        self.statements: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def _stage(self) -> str:
        return getattr(self._local, "stage", "other")

    @contextmanager
    def installed(self, engine: Engine) -> Iterator[StageClock]:
        # a stage ax.compute no longer calls by that name simply counts as "other"
        originals = {
            label: getattr(ax.compute, name) for label, name in STAGES.items() if hasattr(ax.compute, name)
        }
        for label, fn in originals.items():
            setattr(ax.compute, STAGES[label], self._wrap(label, fn))
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(engine, "after_cursor_execute", self._after)
            event.remove(engine, "before_cursor_execute", self._before)
            for label, fn in originals.items():
                setattr(ax.compute, STAGES[label], fn)

    def _wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, self._local.stage = time.perf_counter(), label
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.stages[label] += time.perf_counter() - start
                self._local.stage = "other"

        return timed

    def _before(self, *_: Any) -> None:
        self._local.started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seconds = time.perf_counter() - self._local.started
        with self._lock:
            entry = self.statements[self._stage, gist(statement)]
            entry[0] += 1
            entry[1] += seconds

    def print(self, backend: str, what: str, total: float, top: int) -> None:
        staged = sum(self.stages.values())
        if staged <= total:
            split = {**self.stages, "other": total - staged}
            parts = ", ".join(f"{label} {s:.2f} s ({s / total:.0%})" for label, s in split.items())
            print(f"{backend}: stages {what}: {parts}")
        else:
            parts = ", ".join(f"{label} {s:.2f} s" for label, s in self.stages.items())
            print(
                f"{backend}: stages {what} (batches side by side: stage times summed over threads, "
                f"{staged:.2f} s in all for a {total:.2f} s run): {parts}"
            )
        slowest = sorted(self.statements.items(), key=lambda item: -item[1][1])[:top]
        for (stage, text), (calls, seconds) in slowest:
            print(f"{backend}:   {seconds:8.3f} s {int(calls):>5}x  [{stage}] {text}")


def compute(engine: Engine, stages: bool, **kwargs: Any) -> tuple[ComputeResult, float, StageClock | None]:
    """``run_compute(engine, **kwargs)``, timed; with ``stages`` also split by stage."""
    clock = StageClock() if stages else None
    with clock.installed(engine) if clock else nullcontext():
        start = time.perf_counter()
        result = run_compute(engine, **kwargs)
        seconds = time.perf_counter() - start
    return result, seconds, clock


def profile_full(backend: str, engine: Engine, top: int) -> None:
    """One more full recompute under cProfile (its own time is inflated by the profiler)."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(run_compute, engine, full=True)
    seconds = time.perf_counter() - start
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    body = out.getvalue()
    body = body[body.find("   ncalls") :] if "   ncalls" in body else body
    print(
        f"{backend}: profile of one more full recompute ({seconds:.2f} s under cProfile), "
        f"top {top} by tottime:"
    )
    for line in body.rstrip().splitlines():
        print(f"{backend}:   {line}")


def measure(backend: str, url: str, args: argparse.Namespace) -> Measured:
    with engine_for(url) as engine:
        contacts, statuses = counts(engine)
        print(f"{backend}: data      {contacts} contacts, {statuses} status intervals")

        before = raw_aggregate(engine)
        full, full_s, full_stages = compute(engine, args.stages, full=True)
        after = raw_aggregate(engine)
        raw = min(before, after, key=lambda t: t.seconds)
        print(
            f"{backend}: full    {full_s:8.3f} s  run_compute(full=True): {full.agent_days} agent-days, "
            f"{full.team_days} team-days, {full.risks} risk rows, {full.agents} agents"
        )
        print(
            f"{backend}: raw     {raw.seconds:8.3f} s  {raw.rows} rows fetched, best of 2 "
            f"({before.seconds:.3f} s before / {after.seconds:.3f} s after the full recompute): "
            f"{RAW_SQL[backend]}"
        )
        ratio = full_s / raw.seconds if raw.seconds else float("inf")
        print(f"{backend}: ratio full/raw = {ratio:.2f}")

        start = time.perf_counter()
        synced = run_sync(engine, helpdesk(args.agents, args.days, extra_days=1), batch_size=BATCH_SIZE)
        sync_s = time.perf_counter() - start
        contacts_after, statuses_after = counts(engine)
        new_day = END + timedelta(days=1)
        print(
            f"{backend}: sync    {sync_s:8.3f} s  end {END} -> {new_day}: "
            f"{sum(r.total for r in synced.values())} records sent ({END} again, {new_day} new); "
            f"+{contacts_after - contacts} contacts, +{statuses_after - statuses} status intervals"
        )
        if contacts_after <= contacts:
            raise SystemExit(f"{backend}: the extra day brought no new contacts")
        incremental, inc_s, inc_stages = compute(engine, args.stages)
        print(
            f"{backend}: incr    {inc_s:8.3f} s  run_compute(): {incremental.agents} agents touched, "
            f"{incremental.agent_days} agent-days, {incremental.team_days} team-days, "
            f"{incremental.risks} risk rows rebuilt"
        )
        if full_stages and inc_stages:
            full_stages.print(backend, "full", full_s, args.statements)
            inc_stages.print(backend, "incremental", inc_s, args.statements)
        if args.profile:
            profile_full(backend, engine, args.profile_top)
    return Measured(backend, Timing(full.rows, full_s), raw, Timing(incremental.rows, inc_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--stages", action="store_true", help="print the time per compute stage")
    parser.add_argument("--statements", type=int, default=6, help="slowest statements --stages lists")
    parser.add_argument("--profile", action="store_true", help="profile one more full recompute")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database as a snapshot")
    parser.add_argument("--reuse", action="store_true", help="skip loading when a kept snapshot exists")
    parser.add_argument("--keep-dir", default=tempfile.gettempdir(), help="where --keep puts SQLite files")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    args.keep = args.keep or args.reuse

    margin = ax.compute.WATERMARK_MARGIN
    ax.compute.WATERMARK_MARGIN = timedelta(0)
    print(
        f"demo data: {args.agents} agents, {args.days} days to {END} (seed {SEED}), then one more day; "
        f"ax.compute.WATERMARK_MARGIN patched {margin} -> 0:00:00 (nothing syncs concurrently)"
    )

    measured: list[Measured] = []
    if args.skip_sqlite:
        print("sqlite: skipped (--skip-sqlite)")
    else:
        measured.append(bench_sqlite(args))
    url = bench_pg_url()
    if args.skip_pg:
        print("postgresql: skipped (--skip-pg)")
    elif postgres_answers(url):
        measured.append(bench_pg(url, args))
    if not measured:
        raise SystemExit("no back end measured")

    worst_ratio = max(measured, key=lambda m: m.ratio)
    worst_incremental = max(measured, key=lambda m: m.incremental.seconds)
    print(
        f"worst back end: {worst_ratio.backend} for the ratio, {worst_incremental.backend} for the "
        f"incremental run; goal compute_ratio <= 3 and incremental_seconds < 1"
    )
    print(f"incremental_seconds={worst_incremental.incremental.seconds:.3f}")
    print(f"compute_ratio={worst_ratio.ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
