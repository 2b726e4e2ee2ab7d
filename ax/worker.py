"""The one background process: APScheduler runs AX's jobs and records each run.

Never started inside Streamlit (scripts rerun per session); ``ax worker`` runs it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

from ax.indicators import compute_agent_days
from ax.jobs import run_recorded
from ax.syncing import SYNC_JOB_PREFIX, run_requested_syncs, sync_source
from db.types import utcnow

log = logging.getLogger("ax.worker")


def compute_recent(engine: Engine) -> int:
    """Recompute the last two local days: the ones new contacts can still land in."""
    return compute_agent_days(engine, since=(utcnow() - timedelta(days=1)).date())


def build_scheduler(
    engine: Engine,
    *,
    compute_minutes: int,
    sync_minutes: int = 15,
    sources: list[str] | tuple[str, ...] = (),
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """The worker's scheduler; tests pass a BackgroundScheduler to watch it run."""
    scheduler = scheduler_class(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    scheduler.add_job(
        run_recorded,
        "interval",
        minutes=compute_minutes,
        args=(engine, "compute", lambda: compute_recent(engine)),
        id="compute",
        name="compute",
        next_run_time=utcnow(),
    )
    for source in sources:
        scheduler.add_job(
            run_recorded,
            "interval",
            minutes=sync_minutes,
            args=(engine, f"{SYNC_JOB_PREFIX}{source}", lambda source=source: sync_source(engine, source)),
            id=f"{SYNC_JOB_PREFIX}{source}",
            name=f"{SYNC_JOB_PREFIX}{source}",
            next_run_time=utcnow(),
        )
    scheduler.add_job(
        run_requested_syncs,
        "interval",
        seconds=20,
        args=(engine,),
        id="requested-syncs",
        name="requested-syncs",
    )
    return scheduler
