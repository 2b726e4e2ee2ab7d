"""Agent page: my own workload today and over recent weeks, against my baseline and my team."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ax.workload import my_workload
from pages.common import db_session, minutes, no_data_hint, require_viewer

viewer = require_viewer()
with db_session() as session:
    mine = my_workload(session, viewer)

st.title("My workload")
st.caption(
    f"{mine.agent_name} · days are your local days ({mine.timezone}) · today is {mine.today:%a %d %b %Y}"
)

if mine.days.empty:
    no_data_hint()
    st.stop()

today = mine.today_row
base = mine.baseline


def _delta(value: float | None, reference: float | None, unit: str = "") -> str | None:
    if value is None or reference is None or reference != reference or value != value:
        return None
    return f"{value - reference:+.1f}{unit} vs your 28-day average"


cols = st.columns(4)
contacts_today = float(today["contacts"]) if today is not None else 0.0
cols[0].metric(
    "Contacts today",
    f"{contacts_today:.0f}",
    _delta(contacts_today, base["contacts"] if base is not None else None),
    delta_color="off",
)
hours_today = float(today["handle_hours"]) if today is not None else 0.0
cols[1].metric(
    "Handle time today",
    f"{hours_today:.1f} h",
    _delta(hours_today, base["handle_hours"] if base is not None else None, " h"),
    delta_color="off",
)
aht_today = float(today["aht_seconds"]) / 60 if today is not None and today["contacts"] else None
cols[2].metric(
    "Average handle time",
    "–" if aht_today is None else f"{aht_today:.1f} min",
    _delta(aht_today, base["aht_seconds"] / 60 if base is not None else None, " min"),
    delta_color="off",
)
cols[3].metric(
    "Hard contacts today",
    f"{int(today['hard_contacts']) if today is not None else 0}",
    help="Low CSAT (1-2 of 5), negative customer sentiment, or escalated.",
)
if base is not None:
    st.caption(
        f"Your 28-day average: {base['contacts']:.0f} contacts a worked day, "
        f"{base['handle_hours']:.1f} h handling, "
        f"AHT {minutes(base['aht_seconds'])}."
    )

st.subheader("Contacts per day")
days = mine.days.copy()
days["day"] = pd.to_datetime(days["day"])
bars = (
    alt.Chart(days)
    .mark_bar(color="#4C78A8")
    .encode(
        x=alt.X("day:T", title="Day"),
        y=alt.Y("contacts:Q", title="Contacts"),
        tooltip=[
            alt.Tooltip("day:T", title="Day"),
            alt.Tooltip("contacts:Q", title="Contacts"),
            alt.Tooltip("handle_hours:Q", title="Handle hours", format=".1f"),
        ],
    )
)
layers = [bars]
if not mine.team_median.empty:
    median = mine.team_median.copy()
    median["day"] = pd.to_datetime(median["day"])
    layers.append(
        alt.Chart(median)
        .mark_line(color="#F58518", strokeDash=[4, 3], point=True)
        .encode(
            x="day:T", y="median_contacts:Q", tooltip=[alt.Tooltip("median_contacts:Q", title="Team median")]
        )
    )
st.altair_chart(alt.layer(*layers), width="stretch")
st.caption("Bars: your contacts. Dashed line: your team's median, for comparison, not a target.")

st.subheader("Channel mix, last 28 days")
recent = mine.days[mine.days["day"] >= mine.today - pd.Timedelta(days=27)]
mix = pd.DataFrame(
    {
        "channel": ["email", "chat", "phone", "other"],
        "contacts": [int(recent[f"contacts_{c}"].sum()) for c in ("email", "chat", "phone", "other")],
    }
)
st.altair_chart(
    alt.Chart(mix)
    .mark_bar()
    .encode(
        x=alt.X("contacts:Q", title="Contacts"),
        y=alt.Y("channel:N", title=None),
        tooltip=["channel", "contacts"],
    ),
    width="stretch",
)
st.info("Your lead sees your operational numbers (contacts, handle time), never your survey answers.")
