"""Agent page "What my lead sees": the per-agent numbers my lead is shown about me, nothing more or less.

Drawn from :func:`ax.lead_visible.figures_about_me`, the same computation as the lead's team pages,
so nothing about a person is hidden from that person.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ax.lead_visible import FIGURES, Figure, figures_about_me
from ax.wording import duration_text
from pages.common import db_session, no_data_hint, require_viewer

viewer = require_viewer()
with db_session() as session:
    about = figures_about_me(session, viewer)


def _show(figure: Figure, value: object) -> str:
    if value is None or pd.isna(value):
        return "unknown"
    number = float(value)
    return {
        "count": f"{number:.0f}",
        "hours": f"{number:.1f} h",
        "minutes": duration_text(number * 60),
        "aht": f"{number:.1f} min",  # as My workload and the table below show it
        "percent": f"{number:.0%}",
        "score": f"{number:.1f} of 5",
    }[figure.unit]


st.title("What my lead sees")
leads = ", ".join(about.leads) or "nobody yet (no lead is assigned to your team)"
teams = ", ".join(about.teams) or "no team"
st.caption(f"Your team: {teams} · who can see this: {leads}")

if not about.per_agent or about.figures is None:
    st.info(
        "This deployment's privacy profile is **team level only**: your lead sees team totals, and no "
        "per-agent numbers about you: no rows, no level, nothing with your name on it."
    )
    st.stop()

me = about.figures
st.markdown(
    "Your lead's pages show these numbers about you: **work data only**. They never see your survey "
    "answers or check-in scores, and the level below is computed from workload alone."
)

st.subheader("Burnout risk, as your lead sees it")
if me.risk.level is None:
    st.write("No level yet: not enough recent activity.")
else:
    as_of = f" (as of {me.risk.day:%a %d %b})" if me.risk.day else ""
    st.markdown(f"**Level: {me.risk.level.value}**{as_of} — a prompt to talk, not a diagnosis.")
    if me.risk.drivers:
        st.markdown("\n".join(f"- {driver.text}" for driver in me.risk.drivers))
    else:
        st.write("Nothing sustained stands out in your recent workload.")
st.caption("Your own level on My workload may differ: only you see the part your check-ins add.")

latest = me.latest
if latest is None:
    no_data_hint()
    st.stop()

if me.in_progress(latest["day"]):
    st.subheader(f"Today so far ({latest['day']:%a %d %b})")
else:
    st.subheader(f"Latest worked day ({latest['day']:%a %d %b})")
headline = [f for f in FIGURES if f.column in ("contacts", "handle_hours", "aht_minutes", "hard_contacts")]
for col, figure in zip(st.columns(len(headline)), headline, strict=True):
    col.metric(figure.label, _show(figure, latest[figure.column]), help=figure.help)
workload = [
    f
    for f in FIGURES
    if f.column in ("occupancy", "longest_stretch_minutes", "back_to_back", "overtime_hours")
]
for col, figure in zip(st.columns(len(workload)), workload, strict=True):
    col.metric(figure.label, _show(figure, latest[figure.column]), help=figure.help)

st.subheader("Every number, last 14 days")
UNITS = {"count": ("", "%.0f", 1), "hours": (" (h)", "%.1f", 1), "minutes": (" (min)", "%.1f", 1)}
UNITS["aht"] = UNITS["minutes"]
UNITS |= {"percent": (" (%)", "%.0f", 100), "score": (" (1-5)", "%.1f", 1)}
table = pd.DataFrame({"Day": me.days["day"].map(lambda d: f"{d:%a %d %b}{' (so far)' * me.in_progress(d)}")})
config = {}
for figure in FIGURES:
    suffix, fmt, scale = UNITS[figure.unit]
    table[figure.label + suffix] = me.days[figure.column].astype(float) * scale
    config[figure.label + suffix] = st.column_config.NumberColumn(format=fmt, help=figure.help)
st.dataframe(table.iloc[::-1], hide_index=True, width="stretch", column_config=config)
st.caption(
    "Days you did not work are not listed. An empty cell: your helpdesk sent no status or rating data "
    "that day, which is not the same as zero."
)
