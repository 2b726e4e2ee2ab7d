"""The one background process: APScheduler runs AX's jobs and records each run.

Never started inside Streamlit (scripts rerun per session); ``ax worker`` runs it. The jobs live
in the database (``apscheduler_jobs``), so they are stored as text: :func:`run_job` by its import
path with plain string arguments, and every run builds its engine from settings. With several
workers on one database, :mod:`ax.leader` keeps exactly one of them running jobs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import ref_to_obj
from sqlalchemy.engine import Engine

from ax.jobs import run_recorded
from ax.leader import lead, worker_lock
from ax.settings import Settings, get_settings
from ax.sources import configured_sources
from ax.syncing import SYNC_JOB_PREFIX
from db.engine import get_engine
from db.types import utcnow

log = logging.getLogger("ax.worker")

JOB_TABLE = "apscheduler_jobs"  # excluded from Alembic autogenerate: APScheduler owns it
NIGHTLY_DAYS = 7
REQUESTED_SYNCS_SECONDS = 20
ALERTS_AFTER_COMPUTE = timedelta(minutes=2)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job; adding a job to AX is adding one of these to :func:`job_specs`."""

    id: str
    trigger: BaseTrigger
    func: str  # "module:function" called as function(engine, *args), returning rows touched
    args: tuple[str, ...] = ()
    record: bool = True  # a job_run row per run; requested-syncs records each request instead
    run_at_start: bool = True  # catch up at once when a worker becomes active


def _every(minutes: int) -> IntervalTrigger:
    return IntervalTrigger(minutes=minutes, timezone=UTC)


def job_specs(settings: Settings) -> list[JobSpec]:
    """AX's jobs as configured: a sync per source, compute, the nightly recompute, sync requests,
    survey windows and reminders, and the lead alerts."""
    return [
        *(
            JobSpec(
                f"{SYNC_JOB_PREFIX}{name}", _every(settings.sync_minutes), "ax.syncing:sync_source", (name,)
            )
            for name in configured_sources(settings)
        ),
        JobSpec("compute", _every(settings.worker_compute_minutes), "ax.worker:compute_incremental"),
        JobSpec(
            "compute-nightly",
            CronTrigger(hour=settings.worker_nightly_hour, minute=0, timezone=settings.timezone),
            "ax.worker:compute_nightly",
            run_at_start=False,
        ),
        JobSpec(
            "requested-syncs",
            IntervalTrigger(seconds=REQUESTED_SYNCS_SECONDS, timezone=UTC),
            "ax.syncing:run_requested_syncs",
            record=False,  # polled every 20 s: a row per poll would bury the history on the admin page
        ),
        JobSpec(
            "survey-windows",
            _every(settings.survey_windows_minutes),
            "ax.survey_windows:run_survey_windows",  # opens windows at local midnight, then reminds
        ),
        JobSpec(
            "alerts",
            # after compute: first run ALERTS_AFTER_COMPUTE after the worker starts (compute runs at once)
            IntervalTrigger(
                minutes=settings.alert_minutes, start_date=utcnow() + ALERTS_AFTER_COMPUTE, timezone=UTC
            ),
            "ax.alerts:run_alerts",
            run_at_start=False,
        ),
    ]


def compute_incremental(engine: Engine) -> int:
    """The agent-days touched since the last run."""
    from ax.compute import run_compute

    return run_compute(engine).rows


def nightly_since(timezone: str, now: datetime) -> date:
    """First local day the nightly run rebuilds: a week back catches late edits the incremental run
    cannot see (a reopened ticket, a CSAT rating given days later)."""
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=NIGHTLY_DAYS)


def compute_nightly(engine: Engine) -> int:
    from ax.compute import run_compute

    return run_compute(engine, since=nightly_since(get_settings().timezone, utcnow())).rows


def run_job(name: str, func: str, *args: str, record: bool = True) -> None:
    """What the scheduler calls: ``func`` by its text path, so the stored job pickles, and recorded
    in ``job_run`` (where a failure ends up instead of in the worker)."""
    engine = get_engine(get_settings().database_url)
    target = ref_to_obj(func)
    if record:
        run_recorded(engine, name, lambda: target(engine, *args))
    else:
        target(engine, *args)  # APScheduler logs an exception and keeps going


def start_scheduler(
    engine: Engine, specs: Sequence[JobSpec], *, misfire_grace_seconds: int = 300
) -> BackgroundScheduler:
    """Start APScheduler on the database job store holding exactly ``specs``.

    Every job is replaced (so a changed interval applies) and stored jobs that are no longer
    configured (an un-configured source) are removed, all before anything runs.
    """
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_seconds},
    )
    scheduler.start(paused=True)
    try:
        for spec in specs:
            ref_to_obj(spec.func)  # a typo fails at start, not at 02:00
            scheduler.add_job(
                run_job,
                trigger=spec.trigger,
                args=(spec.id, spec.func, *spec.args),
                kwargs={"record": spec.record},
                id=spec.id,
                name=spec.id,
                replace_existing=True,
                **({"next_run_time": utcnow()} if spec.run_at_start else {}),
            )
        wanted = {spec.id for spec in specs}
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("removing job %s: no longer configured", job.id)
                job.remove()
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    return scheduler


def run_worker(
    engine: Engine,
    settings: Settings,
    *,
    specs: Callable[[], Sequence[JobSpec]] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the jobs while this process is the active worker and stand by otherwise, until ``stop``.

    ``specs`` replaces AX's jobs (tests run their own); it is called on every activation so that
    interval triggers start from then.
    """

    def activate() -> Callable[[], None]:
        scheduler = start_scheduler(
            engine,
            specs() if specs else job_specs(settings),
            misfire_grace_seconds=settings.worker_misfire_grace_seconds,
        )
        return lambda: scheduler.shutdown(wait=True)  # running jobs finish before the lock is let go

    lead(worker_lock(engine), activate, standby_seconds=settings.worker_standby_seconds, stop=stop)
