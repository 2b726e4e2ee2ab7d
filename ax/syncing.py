"""Syncing helpdesk sources from the worker: on a schedule, and when an admin asks from the page.

A request from the dashboard is only a ``job_run`` row with status ``requested``: the Streamlit
script never runs a sync itself (it reruns per session); the worker picks requests up.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.access import Viewer, require_role
from ax.audit import record_event
from ax.compute import run_compute
from ax.jobs import run_recorded
from ax.settings import get_settings
from ax.sources import build_source, configured_sources
from connectors.contract import run_sync
from db.models import JobRun, Role
from db.types import utcnow

SYNC_JOB_PREFIX = "sync:"


def sync_source(engine: Engine, name: str) -> int:
    """Sync one configured source from its stored cursors, then refresh agent-days; returns rows."""
    settings = get_settings()
    results = run_sync(engine, build_source(name, settings), batch_size=settings.ingest_batch_size)
    run_compute(engine)
    return sum(result.total for result in results.values())


def request_sync(session: Session, viewer: Viewer, source: str) -> JobRun:
    """An admin's "sync now": queue it for the worker (once; a pending request is reused)."""
    require_role(session, viewer, Role.admin, action="request a sync as")
    if source not in configured_sources(get_settings()):
        raise ValueError(f"{source} is not configured")
    job = f"{SYNC_JOB_PREFIX}{source}"
    pending = session.exec(select(JobRun).where(JobRun.job == job, JobRun.status == "requested")).first()
    if pending:
        return pending
    run = JobRun(job=job, status="requested", started_at=utcnow())
    session.add(run)
    record_event(session, viewer=viewer, action="sync_requested", target=source)
    session.commit()
    return run


def run_requested_syncs(engine: Engine) -> int:
    """Worker job: run every requested sync, recording each in its own request row."""
    with Session(engine) as session:
        requests = session.exec(select(JobRun).where(JobRun.status == "requested").order_by(JobRun.id)).all()
    for request in requests:
        source = request.job.removeprefix(SYNC_JOB_PREFIX)
        run_recorded(
            engine, request.job, lambda source=source: sync_source(engine, source), run_id=request.id
        )
    return len(requests)
