"""HR page: organisation-wide workload by team and month. Aggregates only, no individuals."""

from __future__ import annotations

import altair as alt
import streamlit as st

from ax.workload import org_monthly_summary
from pages.common import db_session, no_data_hint, require_viewer

viewer = require_viewer()
with db_session() as session:
    summary = org_monthly_summary(session, viewer)

st.title("Organisation summary")
st.caption(f"Teams by month, last 3 months · months in {viewer.timezone}")
if summary.empty:
    no_data_hint()
    st.stop()

st.altair_chart(
    alt.Chart(summary)
    .mark_bar()
    .encode(
        x=alt.X("month:N", title="Month", sort=None, axis=alt.Axis(labelAngle=0, labelLimit=0)),
        xOffset="team:N",
        y=alt.Y("contacts:Q", title="Contacts"),
        color=alt.Color("team:N", title="Team"),
        tooltip=["team", "month", alt.Tooltip("contacts:Q", format=","), alt.Tooltip("agents:Q")],
    ),
    width="stretch",
)
table = summary.assign(
    aht_minutes=summary["aht_seconds"] / 60, hard_percent=summary["hard_share"] * 100
).rename(
    columns={
        "team": "Team",
        "month": "Month",
        "agents": "Agents",
        "contacts": "Contacts",
        "handle_hours": "Handle hours",
        "aht_minutes": "AHT (min)",
        "csat_avg": "CSAT (1-5)",
        "hard_percent": "Hard contacts (%)",
    }
)
st.dataframe(
    table[
        [
            "Team",
            "Month",
            "Agents",
            "Contacts",
            "Handle hours",
            "AHT (min)",
            "CSAT (1-5)",
            "Hard contacts (%)",
        ]
    ],
    hide_index=True,
    width="stretch",
    column_config={
        "Handle hours": st.column_config.NumberColumn(format="%.0f"),
        "AHT (min)": st.column_config.NumberColumn(format="%.1f"),
        "CSAT (1-5)": st.column_config.NumberColumn(format="%.2f"),
        "Hard contacts (%)": st.column_config.NumberColumn(format="%.1f"),
    },
)
