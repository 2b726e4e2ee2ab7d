"""Job runs: every scheduled job is recorded (start, end, status, rows, error) for the admin page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.models import JobRun
from db.types import utcnow

log = logging.getLogger("ax.jobs")


def run_recorded(engine: Engine, name: str, job: Callable[[], int], *, run_id: int | None = None) -> JobRun:
    """Run ``job`` (which returns rows touched), store how it went, and never let it raise.

    ``run_id`` continues a run row that already exists (a sync an admin requested from the page).
    """
    with Session(engine, expire_on_commit=False) as session:
        run = session.get(JobRun, run_id) if run_id is not None else None
        run = run or JobRun(job=name)
        run.started_at, run.status = utcnow(), "running"
        session.add(run)
        session.commit()
        try:
            run.rows = int(job() or 0)
            run.status = "ok"
        except Exception as exc:  # a failing job must not kill the worker; it is recorded instead
            log.exception("job %s failed", name)
            run.status = "failed"
            run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.ended_at = utcnow()
        session.add(run)
        session.commit()
        return run
