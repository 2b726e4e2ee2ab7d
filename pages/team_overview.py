"""Lead page: agents × days of the teams I lead, for the indicator I pick."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ax.workload import local_today, team_workload, visible_teams
from pages.common import db_session, no_data_hint, require_viewer

INDICATORS = {
    "Contacts": ("contacts", ",.0f"),
    "Handle hours": ("handle_hours", ".1f"),
    "AHT (minutes)": ("aht_minutes", ".1f"),
    "Hard contacts": ("hard_contacts", ",.0f"),
}

viewer = require_viewer()
with db_session() as session:
    teams = visible_teams(session, viewer)

st.title("Team overview")
if not teams:
    st.info("You do not lead any team yet. An administrator assigns teams to leads (`ax users`).")
    st.stop()

team = st.selectbox("Team", teams, format_func=lambda t: t.name, key="team") if len(teams) > 1 else teams[0]
indicator = st.radio("Indicator", list(INDICATORS), horizontal=True, key="indicator")
with db_session() as session:
    workload = team_workload(session, viewer, team.id)

st.caption(f"{workload.team_name} · last 14 days · local days in {viewer.timezone}")
if workload.days.empty:
    no_data_hint()
    st.stop()
if not workload.per_agent:
    st.info("This deployment's privacy profile shows team totals only, not per-agent numbers.")

frame = workload.days.copy()
frame["aht_minutes"] = frame["aht_seconds"] / 60
frame["day_label"] = pd.to_datetime(frame["day"]).dt.strftime("%a %d %b")
all_days = (
    pd.date_range(end=pd.Timestamp(local_today(viewer.timezone)), periods=14).strftime("%a %d %b").tolist()
)
column, fmt = INDICATORS[indicator]
high = frame[column].quantile(0.75)
base = alt.Chart(frame).encode(
    # every day of the window, so days nobody worked show as gaps, not as missing columns
    x=alt.X("day_label:O", title="Day", sort=all_days, scale=alt.Scale(domain=all_days)),
    y=alt.Y("agent:N", title=None),
)
heatmap = base.mark_rect().encode(
    color=alt.Color(f"{column}:Q", title=indicator, scale=alt.Scale(scheme="orangered")),
    tooltip=[
        "agent",
        alt.Tooltip("day_label:O", title="Day"),
        alt.Tooltip(f"{column}:Q", title=indicator, format=fmt),
    ],
)
labels = base.mark_text(fontSize=11).encode(
    text=alt.Text(f"{column}:Q", format=fmt),
    color=alt.condition(alt.datum[column] > high, alt.value("white"), alt.value("black")),
)
st.altair_chart(
    (heatmap + labels).properties(height=max(160, 28 * frame["agent"].nunique())), width="stretch"
)
st.caption("Empty cells: no recorded work that day.")

latest_day = frame["day"].max()
latest = frame[frame["day"] == latest_day]
st.subheader(f"Latest day ({latest_day:%a %d %b})")
st.caption("Agents without recorded work that day are not listed.")
st.dataframe(
    latest[["agent", "contacts", "handle_hours", "aht_minutes", "hard_contacts"]].rename(
        columns={
            "agent": "Agent",
            "contacts": "Contacts",
            "handle_hours": "Handle hours",
            "aht_minutes": "AHT (min)",
            "hard_contacts": "Hard contacts",
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "Handle hours": st.column_config.NumberColumn(format="%.1f"),
        "AHT (min)": st.column_config.NumberColumn(format="%.1f"),
    },
)
