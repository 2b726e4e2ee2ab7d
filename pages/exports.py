"""HR and admin page: download the organisation summary as CSV, XLSX or PDF (every export audited)."""

from __future__ import annotations

import io

import streamlit as st

from ax.exports import ExportError, ExportRequest, Format, Month, export_options, months_between, run_export
from pages.common import db_session, no_data_hint, require_viewer

FORMATS = {
    "XLSX (one sheet per section)": Format.xlsx,
    "CSV (all sections in one file)": Format.csv,
    "PDF report with charts": Format.pdf,
}
MIME = {
    Format.csv: "text/csv",
    Format.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.pdf: "application/pdf",
}
READY_KEY = "ax_export_ready"

viewer = require_viewer()
with db_session() as session:
    options = export_options(session, viewer)

st.title("Exports")
st.caption(
    "Workload, burnout-risk levels, survey results, response rates and actions taken, by team and month. "
    "Aggregates only: figures for small groups stay hidden in every format, and each export is "
    "recorded in the audit log."
)
if options.first_month is None:
    no_data_hint()
    st.stop()

months = months_between(options.first_month, max(options.last_month, options.current_month))
labels = [m.label for m in months]
team_names = {t.id: t.name for t in options.teams}
with st.form("export"):
    left, right = st.columns(2)
    first = left.selectbox("From month", labels, index=max(0, len(labels) - 3), key="export_from")
    last = right.selectbox("To month", labels, index=len(labels) - 1, key="export_to")
    left, right = st.columns(2)
    team = left.selectbox(
        "Team (with the teams below it)",
        [None, *team_names],
        format_func=lambda t: "All teams" if t is None else team_names[t],
        key="export_team",
    )
    site = right.selectbox(
        "Site", [None, *options.sites], format_func=lambda s: s or "All sites", key="export_site"
    )
    choice = st.radio("Format", list(FORMATS), horizontal=True, key="export_format")
    prepare = st.form_submit_button("Prepare export", type="primary")

if prepare:
    st.session_state.pop(READY_KEY, None)
    request = ExportRequest(Month.parse(first), Month.parse(last), team, site)
    fmt = FORMATS[choice]
    bar = st.progress(0.0, text="Reading…")

    def _progress(done: int, total: int, what: str) -> None:
        bar.progress(done / total if total else 1.0, text=f"{what} ({done} of {total})")

    buffer = io.BytesIO()
    try:
        with db_session() as session:
            result = run_export(session, viewer, request, fmt, buffer, progress=_progress)
    except ExportError as exc:
        bar.empty()
        st.warning(str(exc))
        st.stop()
    bar.empty()
    st.session_state[READY_KEY] = (result.filename, fmt, buffer.getvalue(), result.rows)

ready = st.session_state.get(READY_KEY)
if ready:
    name, fmt, data, rows = ready
    st.success(f"Ready: {rows} rows in {name}. This export is recorded in the audit log.")
    st.download_button(f"Download {fmt.value.upper()}", data, file_name=name, mime=MIME[fmt], key="download")
else:
    st.info("Pick the months, a team or site if you need one, and a format, then press **Prepare export**.")
