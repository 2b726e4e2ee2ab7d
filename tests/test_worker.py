"""The worker: jobs run on schedule from the database job store, each run is recorded, a crash is
recorded instead of stopping the worker, and of several workers on one database exactly one runs
jobs while the others stand by to take over."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import ref_to_obj
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine, select

from ax.jobs import run_recorded
from ax.leader import lead, worker_lock
from ax.settings import get_settings, reset_settings
from ax.worker import JOB_TABLE, JobSpec, job_specs, nightly_since, run_worker, start_scheduler
from db.engine import get_engine
from db.models import JobRun

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# Jobs the tests schedule: module-level, because the job store refers to them by text path.
def tick(engine: Engine) -> int:
    return 1


def crash(engine: Engine) -> int:
    raise RuntimeError("boom")


def take_turn(engine: Engine) -> int:
    """Hold the stage briefly and write who held it when: overlapping turns mean two active workers."""
    started = time.time()
    time.sleep(0.15)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO worker_turn (pid, started, ended) VALUES (:pid, :started, :ended)"),
            {"pid": os.getpid(), "started": started, "ended": time.time()},
        )
    return 1


def compete() -> None:
    """A competing worker process: AX's worker loop and lock, with take_turn as its only job."""
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    settings = get_settings()
    turn = JobSpec("turn", IntervalTrigger(seconds=0.2, timezone=UTC), "tests.test_worker:take_turn")
    run_worker(get_engine(settings.database_url), settings, specs=lambda: [turn])


def _spec(job_id: str, seconds: float, func: str = "tests.test_worker:tick", **options: bool) -> JobSpec:
    return JobSpec(job_id, IntervalTrigger(seconds=seconds, timezone=UTC), func, **options)


def _wait_for(check: Callable[[], T], seconds: float = 10) -> T:
    """Poll ``check`` until it returns something truthy or time runs out; returns its last value."""
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _runs(engine: Engine, *, finished: bool = True) -> list[JobRun]:
    with Session(engine) as session:
        query = select(JobRun).order_by(JobRun.id)
        if finished:
            query = query.where(JobRun.status.in_(("ok", "failed")))
        return list(session.exec(query).all())


def _stored_jobs(engine: Engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, job_state FROM {JOB_TABLE} ORDER BY id")).all()
    return [(job_id, pickle.loads(state)) for job_id, state in rows]


def test_job_runs_are_recorded_and_failures_do_not_raise(engine):
    ok = run_recorded(engine, "count", lambda: 42)
    failed = run_recorded(engine, "boom", lambda: 1 / 0)
    after = run_recorded(engine, "count", lambda: 7)
    assert (ok.status, ok.rows, ok.error) == ("ok", 42, None)
    assert failed.status == "failed" and "ZeroDivisionError" in failed.error
    assert after.status == "ok"
    runs = _runs(engine, finished=False)
    assert [(r.job, r.status) for r in runs] == [("count", "ok"), ("boom", "failed"), ("count", "ok")]
    assert all(r.ended_at >= r.started_at for r in runs)


def test_job_list_follows_the_settings(monkeypatch):
    for key, value in {
        "AX_SYNC_MINUTES": "30",
        "AX_WORKER_COMPUTE_MINUTES": "7",
        "AX_WORKER_NIGHTLY_HOUR": "3",
        "AX_TIMEZONE": "Europe/Lisbon",
        "AX_INTERCOM_ACCESS_TOKEN": "t",
    }.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    specs = {spec.id: spec for spec in job_specs(get_settings())}
    assert list(specs) == [
        "sync:intercom",
        "compute",
        "compute-nightly",
        "requested-syncs",
        "survey-windows",
        "alerts",
    ]
    assert specs["sync:intercom"].trigger.interval.total_seconds() == 30 * 60
    assert specs["sync:intercom"].args == ("intercom",)
    assert specs["compute"].trigger.interval.total_seconds() == 7 * 60
    assert specs["requested-syncs"].trigger.interval.total_seconds() == 20
    assert specs["survey-windows"].trigger.interval.total_seconds() == 15 * 60
    assert not specs["requested-syncs"].record and not specs["compute-nightly"].run_at_start
    # 03:00 in Lisbon (summer time, UTC+1) is 02:00 UTC.
    nightly = specs["compute-nightly"].trigger.get_next_fire_time(None, datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert nightly == datetime(2026, 6, 2, 2, tzinfo=UTC)
    assert all(callable(ref_to_obj(spec.func)) for spec in specs.values())


def test_nightly_recompute_starts_a_week_back_in_the_org_timezone():
    late_evening_utc = datetime(2026, 3, 31, 13, 0, tzinfo=UTC)  # already 1 April in Auckland
    assert nightly_since("Pacific/Auckland", late_evening_utc) == date(2026, 3, 25)
    assert nightly_since("UTC", late_evening_utc) == date(2026, 3, 24)


def test_worker_runs_compute_on_start_and_records_it(engine):
    scheduler = start_scheduler(engine, job_specs(get_settings()))
    try:
        job = scheduler.get_job("compute")
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300)
        assert job.trigger.interval.total_seconds() == 15 * 60
        _wait_for(lambda: len(_runs(engine)) >= 2)
    finally:
        scheduler.shutdown()
    runs = _runs(engine)
    assert sorted((r.job, r.status) for r in runs) == [("compute", "ok"), ("survey-windows", "ok")], [
        r.error for r in runs
    ]


def test_jobs_run_on_schedule_and_a_crash_does_not_stop_the_next_run(engine):
    specs = [_spec("tick", 0.3), _spec("crash", 0.3, "tests.test_worker:crash")]
    scheduler = start_scheduler(engine, specs)
    try:
        _wait_for(lambda: sum(r.job == "crash" for r in _runs(engine)) >= 3)
        assert scheduler.running
    finally:
        scheduler.shutdown()
    runs = _runs(engine)
    crashes = [r for r in runs if r.job == "crash"]
    ticks = [r.started_at for r in runs if r.job == "tick"]
    assert len(crashes) >= 3 and len(ticks) >= 3
    assert {(r.status, r.error) for r in crashes} == {("failed", "RuntimeError: boom")}
    assert all(r.status == "ok" and r.rows == 1 for r in runs if r.job == "tick")
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(ticks)]
    assert min(gaps) > 0.1, gaps  # on the interval, not back to back


def test_jobs_are_stored_in_the_database_and_a_restart_replaces_them(engine):
    later = {"run_at_start": False}
    start_scheduler(engine, [_spec("a", 60, **later), _spec("b", 60, **later)]).shutdown()
    stored = _stored_jobs(engine)
    assert [job_id for job_id, _ in stored] == ["a", "b"]
    assert {state["func"] for _, state in stored} == {"ax.worker:run_job"}  # text, so it unpickles anywhere
    assert stored[0][1]["args"] == ("a", "tests.test_worker:tick")

    start_scheduler(engine, [_spec("a", 120, **later)]).shutdown()  # b is no longer configured
    stored = _stored_jobs(engine)
    assert [(job_id, state["trigger"].interval.total_seconds()) for job_id, state in stored] == [("a", 120)]


def test_worker_lock_admits_one_holder_at_a_time(engine):
    first, second = worker_lock(engine), worker_lock(engine)
    try:
        assert first.try_acquire() and first.try_acquire()  # taking it again is harmless
        assert not second.try_acquire()
        assert first.is_held() and not second.is_held()
        first.release()
        assert second.try_acquire() and not first.try_acquire()
    finally:
        first.release()
        second.release()
    if engine.dialect.name == "sqlite":
        assert Path(f"{engine.url.database}.worker.lock").is_file()


def test_in_memory_sqlite_needs_no_lock():
    memory = create_engine("sqlite://")
    assert all(worker_lock(memory).try_acquire() for _ in range(2))


def _break_lock(engine: Engine) -> None:
    """What losing the lock looks like: the server drops the connection, or the lock file goes."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            holders = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).all()
        assert holders == [(True,)]
    else:
        Path(f"{engine.url.database}.worker.lock").unlink()


def test_a_leader_that_loses_its_lock_stops_its_jobs_and_stands_by(engine):
    events: list[str] = []

    def activate() -> Callable[[], None]:
        events.append("start")
        return lambda: events.append("stop")

    stop = threading.Event()
    leader = threading.Thread(
        target=lead, args=(worker_lock(engine), activate), kwargs={"standby_seconds": 0.1, "stop": stop}
    )
    leader.start()
    try:
        assert _wait_for(lambda: events == ["start"], 5)
        _break_lock(engine)
        assert _wait_for(lambda: events == ["start", "stop", "start"], 5), events  # then leads again
    finally:
        stop.set()
        leader.join(5)
    assert events == ["start", "stop", "start", "stop"]
    assert worker_lock(engine).try_acquire()  # let go on the way out


@contextmanager
def _workers(command: list[str], count: int, env: dict[str, str], logs: Path) -> Iterator[list]:
    """``count`` worker processes of ``command``, each logging to its own file; killed at the end."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AX_")}
    full_env.update(PYTHONPATH=str(ROOT), AX_WORKER_STANDBY_SECONDS="0.2", **env)
    processes = []
    try:
        for n in range(count):
            with (logs / f"worker{n}.log").open("w") as log_file:
                processes.append(
                    subprocess.Popen(
                        command, env=full_env, cwd=logs, stdout=log_file, stderr=subprocess.STDOUT
                    )
                )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def _log(logs: Path, process_index: int) -> str:
    return (logs / f"worker{process_index}.log").read_text()


def test_two_worker_processes_never_run_jobs_at_once_and_the_standby_takes_over(store, tmp_path):
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE worker_turn (pid INTEGER, started FLOAT, ended FLOAT)"))

    def turns() -> list[tuple[int, float, float]]:
        with store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT pid, started, ended FROM worker_turn"))]

    command = [sys.executable, "-c", "from tests.test_worker import compete; compete()"]
    with _workers(command, 2, {"AX_DATABASE_URL": store.url}, tmp_path) as processes:
        decided = ("became the active worker", "standing by")
        assert _wait_for(lambda: all(any(d in _log(tmp_path, n) for d in decided) for n in (0, 1)), 15)
        assert _wait_for(lambda: len(turns()) >= 4)
        time.sleep(0.5)  # room for a standby that wrongly runs jobs to show up
        active_pids = {pid for pid, _, _ in turns()}
        assert len(active_pids) == 1, active_pids
        [active] = [n for n, p in enumerate(processes) if p.pid in active_pids]
        standby = 1 - active
        assert "became the active worker" in _log(tmp_path, active)
        assert "standing by: another worker is active" in _log(tmp_path, standby)
        assert "became the active worker" not in _log(tmp_path, standby)

        processes[active].send_signal(signal.SIGKILL)
        killed_at = time.time()
        taken_over = _wait_for(lambda: [t for t in turns() if t[0] == processes[standby].pid], 5)
        assert taken_over, _log(tmp_path, standby)
        assert min(started for _, started, _ in taken_over) - killed_at < 3
    ordered = sorted(turns(), key=lambda t: t[1])
    overlaps = [(a, b) for a, b in pairwise(ordered) if b[1] < a[2]]
    assert not overlaps


def test_ax_worker_command_runs_the_jobs_and_a_second_one_stands_by(store, tmp_path):
    command = [sys.executable, "-m", "ax.cli", "worker"]
    (tmp_path / "second").mkdir()
    with _workers(command, 1, {"AX_DATABASE_URL": store.url}, tmp_path) as [first]:
        started = ["compute", "survey-windows"]
        assert _wait_for(lambda: sorted(r.job for r in _runs(store.engine)) == started, 15), _log(tmp_path, 0)
        with _workers(command, 1, {"AX_DATABASE_URL": store.url}, tmp_path / "second") as [second]:
            assert _wait_for(lambda: "standing by" in _log(tmp_path / "second", 0), 10)
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0
        first.send_signal(signal.SIGINT)
        assert first.wait(10) == 0
    assert "became the active worker" in _log(tmp_path, 0)
    stored = [job_id for job_id, _ in _stored_jobs(store.engine)]
    assert stored == ["alerts", "compute", "compute-nightly", "requested-syncs", "survey-windows"]
