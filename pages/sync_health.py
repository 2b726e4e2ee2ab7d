"""Admin page: per source, rows synced, cursors, last success, last error; job runs. Rows by record
type on request: counting them reads every row of the big tables (seconds at millions of contacts)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from ax.access import Viewer
from ax.settings import get_settings
from ax.sources import configured_sources
from ax.status import SourceStatus, job_history, sync_health
from ax.syncing import request_sync
from db.types import utcnow
from pages.common import db_session, require_viewer


@st.cache_data(ttl=300, show_spinner="Counting rows in every table…")
def _row_counts(viewer: Viewer, store: str) -> dict[str, dict[str, int]]:
    """Source → record type → rows: reads every row of the big tables, so only on request, cached."""
    with db_session() as session:
        return {s.source: s.rows for s in sync_health(session, viewer, count_rows=True)}


viewer = require_viewer()
zone = ZoneInfo(viewer.timezone)
with db_session() as session:
    sources = sync_health(session, viewer, count_rows=False)
configured = configured_sources(get_settings())
# A configured source that has never synced still gets its card (and its "Sync now" button).
sources += [SourceStatus(name) for name in configured if name not in {s.source for s in sources}]


def _when(moment) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "never"


def _short_when(moment) -> str:
    """For a metric, which has room for little: the time alone today, the date alone before."""
    if moment is None:
        return "never"
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == utcnow().astimezone(zone).date() else f"{local:%d %b %Y}"


def _lag(moment) -> str:
    """How long ago the last successful sync ended, in words a person reads at a glance."""
    if moment is None:
        return "never synced"
    minutes = int((utcnow() - moment).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    return f"{minutes // 60} h {minutes % 60} min ago" if minutes < 48 * 60 else f"{minutes // 1440} days ago"


st.title("Sync health")
st.caption(f"Times in {viewer.timezone}")
if not sources:
    st.info(
        "No sources yet. Load the demo data with `ax demo`, or configure a helpdesk "
        "(AX_ZENDESK_*, AX_INTERCOM_*, … see the README) and run `ax sync`."
    )
counts = (
    _row_counts(viewer, get_settings().database_url)
    if sources
    and st.toggle(
        "Count rows by record type",
        key="count_rows",
        help="Reads every row of every synced table: a few seconds on a large store. Cached for 5 minutes.",
    )
    else None
)
for source in sources:
    with st.container(border=True):
        st.subheader(source.source)
        cols = st.columns(4)
        cols[0].metric(
            "Last success", _short_when(source.last_success_at), help=_when(source.last_success_at)
        )
        cols[1].metric("Lag", _lag(source.last_success_at))
        cols[2].metric(
            "Rows synced",
            f"{source.rows_synced:,}",
            help="Records written by this source's syncs (an update counts again); "
            "turn on “Count rows by record type” for what is stored now.",
        )
        cols[3].metric("Last error", "none" if not source.last_error else "see below")
        if source.source in configured and st.button("Sync now", key=f"sync_{source.source}"):
            with db_session() as session:
                request_sync(session, viewer, source.source)
            st.success("Sync queued: the worker runs it within a minute; this page shows the result.")
        if source.last_error:
            st.error(source.last_error)
        if counts is not None:
            rows = counts.get(source.source, {})
            st.dataframe(
                [{"record type": table, "rows": count} for table, count in sorted(rows.items())],
                hide_index=True,
            )
        st.dataframe(
            [
                {
                    "stream": s.stream,
                    "cursor": s.cursor or "–",
                    "rows synced": s.rows_total,
                    "last success": _when(s.last_success_at),
                    "last error": s.last_error or "",
                }
                for s in source.streams
            ],
            hide_index=True,
        )

st.subheader("Recent job runs")
with db_session() as session:
    runs = job_history(session, viewer)  # read after the buttons, so a queued sync shows at once
if not runs:
    st.caption("No job has run yet: start the worker with `ax worker` (make run starts it for you).")
else:
    st.dataframe(
        [
            {
                "job": r.job,
                "started": _when(r.started_at),
                "status": r.status,
                "rows": r.rows,
                "error": r.error or "",
            }
            for r in runs
        ],
        hide_index=True,
    )
