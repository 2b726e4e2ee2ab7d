"""The worker's jobs: each run is recorded, and a failing job is recorded instead of raising."""

from __future__ import annotations

import time

from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import Session, select

from ax.jobs import run_recorded
from ax.worker import build_scheduler
from db.models import JobRun


def test_job_runs_are_recorded_and_failures_do_not_raise(engine):
    ok = run_recorded(engine, "count", lambda: 42)
    failed = run_recorded(engine, "boom", lambda: 1 / 0)
    after = run_recorded(engine, "count", lambda: 7)
    assert (ok.status, ok.rows, ok.error) == ("ok", 42, None)
    assert failed.status == "failed" and "ZeroDivisionError" in failed.error
    assert after.status == "ok"
    with Session(engine) as session:
        runs = session.exec(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.job, r.status) for r in runs] == [("count", "ok"), ("boom", "failed"), ("count", "ok")]
    assert all(r.ended_at >= r.started_at for r in runs)


def test_scheduler_runs_compute_on_start_and_records_it(engine):
    scheduler = build_scheduler(engine, compute_minutes=5, scheduler_class=BackgroundScheduler)
    scheduler.start()
    try:
        assert {j.id for j in scheduler.get_jobs()} == {"compute", "requested-syncs"}
        job = scheduler.get_job("compute")
        assert (job.id, job.max_instances, job.coalesce) == ("compute", 1, True)
        assert job.trigger.interval.total_seconds() == 300
        deadline = time.monotonic() + 20
        runs = []
        while time.monotonic() < deadline and not runs:
            time.sleep(0.1)
            with Session(engine) as session:
                runs = session.exec(select(JobRun).where(JobRun.status != "running")).all()
    finally:
        scheduler.shutdown()
    assert [(r.job, r.status) for r in runs] == [("compute", "ok")]
