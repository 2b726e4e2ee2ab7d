"""Lead page: agents × days of the teams I lead, for the indicator I pick."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ax.workload import team_workload, visible_teams
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
frame["day"] = pd.to_datetime(frame["day"])
frame["aht_minutes"] = frame["aht_seconds"] / 60
column, fmt = INDICATORS[indicator]
heatmap = (
    alt.Chart(frame)
    .mark_rect()
    .encode(
        x=alt.X("yearmonthdate(day):O", title="Day", axis=alt.Axis(format="%a %d")),
        y=alt.Y("agent:N", title=None),
        color=alt.Color(f"{column}:Q", title=indicator, scale=alt.Scale(scheme="orangered")),
        tooltip=[
            "agent",
            alt.Tooltip("day:T", title="Day"),
            alt.Tooltip(f"{column}:Q", title=indicator, format=fmt),
        ],
    )
)
labels = heatmap.mark_text(fontSize=10).encode(
    text=alt.Text(f"{column}:Q", format=fmt), color=alt.value("black")
)
st.altair_chart(heatmap + labels, width="stretch")

latest = frame[frame["day"] == frame["day"].max()]
st.subheader(f"Latest day ({frame['day'].max():%a %d %b})")
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
)
