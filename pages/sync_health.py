"""Admin page: per source, rows by record type, cursors, last success, last error; job runs."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from ax.status import job_history, sync_health
from pages.common import db_session, require_viewer

viewer = require_viewer()
zone = ZoneInfo(viewer.timezone)
with db_session() as session:
    sources = sync_health(session, viewer)
    runs = job_history(session, viewer)


def _when(moment) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "never"


st.title("Sync health")
st.caption(f"Times in {viewer.timezone}")
if not sources:
    st.info("No sources yet. Load the demo data with `ax demo`, or configure a helpdesk and run `ax sync`.")
for source in sources:
    with st.container(border=True):
        st.subheader(source.source)
        cols = st.columns(3)
        cols[0].metric("Last success", _when(source.last_success_at))
        cols[1].metric("Rows", f"{sum(source.rows.values()):,}")
        cols[2].metric("Last error", "none" if not source.last_error else "see below")
        if source.last_error:
            st.error(source.last_error)
        st.dataframe(
            [{"record type": table, "rows": count} for table, count in sorted(source.rows.items())],
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
