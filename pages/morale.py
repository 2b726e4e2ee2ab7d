"""Lead page: the team's survey results as group figures (hidden cells say why), response rates,
the deterioration flag, and the team's workload over the same periods."""

from __future__ import annotations

from typing import NamedTuple

import altair as alt
import pandas as pd
import streamlit as st

from ax.access import Viewer
from ax.privacy import Granularity
from ax.settings import get_settings
from ax.survey_stats import (
    Figure,
    View,
    deterioration_flags,
    recent_periods,
    response_rates,
    survey_scores,
    views_for,
)
from ax.team_view import NO_STATUS, workload_by_period
from ax.wording import shown
from db.types import utcnow
from pages.common import db_session, require_viewer

RHYTHMS = {
    "Weekly pulse (by week)": (Granularity.week, 12),
    "Monthly check-in (by month)": (Granularity.month, 6),
}


class Measure(NamedTuple):
    """A survey figure as shown: its name, its format in the table and on the chart (d3), and its
    whole scale, which the chart's axis spans so that a small wobble does not look like a fall."""

    title: str
    fmt: str
    d3: str
    scale: tuple[float, float]


MEASURES = {
    "who5_mean": Measure("Wellbeing (WHO-5, 0-100)", "{:.0f}", ".0f", (0, 100)),
    "who5_low_share": Measure("Share with low wellbeing (WHO-5 < 52)", "{:.0%}", ".0%", (0, 1)),
    "cbi_work_mean": Measure("Work-related burnout (CBI, 0-100)", "{:.0f}", ".0f", (0, 100)),
    "burnout_share": Measure("Share reporting burnout symptoms", "{:.0%}", ".0%", (0, 1)),
    "enps": Measure("eNPS (-100…100)", "{:+.0f}", "+.0f", (-100, 100)),
}


@st.cache_data(ttl=600, show_spinner=False)
def _results(viewer: Viewer, view: View, rhythm: str, today: str, store: str) -> tuple:
    """Cached per viewer, team, rhythm, day and store: the survey figures change once a window closes."""
    granularity, count = RHYTHMS[rhythm]
    periods = recent_periods(granularity, count)
    with db_session() as session:
        return (
            deterioration_flags(session, viewer, team_ids=[view.team_id])[0],
            survey_scores(session, viewer, view, periods),
            response_rates(session, viewer, view, periods),
            workload_by_period(session, viewer, view.team_id, periods),
        )


viewer = require_viewer()
st.title("Morale")
st.caption(
    f"Team results only, each from at least {get_settings().min_group_size} people; nobody's own answers "
    "are shown. A number is a prompt to talk with the team, not a diagnosis."
)
with db_session() as session:
    views = [v for v in views_for(session, viewer) if v.view.team_id is not None]  # a lead's teams
if not views:
    st.info("You do not lead any team yet. An administrator assigns teams to leads (`ax users`).")
    st.stop()
option = (
    st.selectbox("Team", views, format_func=lambda v: v.label, key="morale_team")
    if len(views) > 1
    else views[0]
)
rhythm = st.radio("Survey", list(RHYTHMS), horizontal=True, key="morale_rhythm")
periods = recent_periods(*RHYTHMS[rhythm])

flag, scores, rates, workload = _results(
    viewer, option.view, rhythm, utcnow().date().isoformat(), get_settings().database_url
)

if flag.flagged:
    st.warning(flag.message)
elif flag.flagged is False:
    st.success(flag.message)
else:
    st.info(flag.message)

measure = (
    st.segmented_control(
        "Measure",
        list(MEASURES),
        format_func=lambda k: MEASURES[k].title,
        default="who5_mean",
        key="morale_measure",
    )
    or "who5_mean"
)
title, fmt = MEASURES[measure].title, MEASURES[measure].fmt


def _cell(figure: Figure) -> str:
    return fmt.format(figure.value) if figure.shown else f"hidden: {figure.message}"


table = pd.DataFrame(
    {
        "Period": [row.period.label for row in scores],
        title: [_cell(getattr(row, measure)) for row in scores],
        "Answered": [
            getattr(row, measure).respondents if getattr(row, measure).shown else None for row in scores
        ],
        "Response rate": [
            "too small a team to show"
            if r.rate is None
            else f"{r.rate:.0%} of {r.members}" + ("" if r.closed else " (still open)")
            for r in rates
        ],
        "Contacts": workload["contacts"],
        "Occupancy": shown(workload["occupancy"], "{:.0%}", NO_STATUS).where(
            workload["contacts"].notna(), "no workload data"
        ),
        "Overtime (h)": workload["overtime_hours"],
        "Hard contacts": workload["hard_share"].map(lambda v: f"{v:.0%}", na_action="ignore"),
    }
)
visible = [
    (row.period.short_label, row.period.label, getattr(row, measure).value)
    for row in scores
    if getattr(row, measure).shown
]
st.subheader(title)
if visible:
    points = pd.DataFrame(visible, columns=["period", "label", "value"])
    order = [p.short_label for p in periods]  # every period, so hidden ones leave a gap
    weekly = bool(periods) and periods[0].granularity is Granularity.week
    st.altair_chart(
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "period:O",
                sort=order,
                scale=alt.Scale(domain=order),
                title="Week starting" if weekly else None,
                axis=alt.Axis(labelAngle=0, labelOverlap=True),
            ),
            y=alt.Y(
                "value:Q",
                title=None,
                scale=alt.Scale(domain=list(MEASURES[measure].scale)),
                axis=alt.Axis(format=MEASURES[measure].d3),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Period"),
                alt.Tooltip("value:Q", title=title, format=MEASURES[measure].d3),
            ],
        )
        .properties(height=220),
        width="stretch",
    )
else:
    st.info(
        "No period can be shown yet for this team: each needs at least "
        f"{get_settings().min_group_size} people's answers once the survey has closed. The table says why "
        "for each period."
    )
st.caption("Hidden periods are gaps in the line; the table says why each one is hidden.")
st.subheader("Results, response rate and workload by period")
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "Overtime (h)": st.column_config.NumberColumn(format="%.1f"),
        "Answered": st.column_config.NumberColumn(format="%d"),
    },
)
st.page_link("pages/actions.py", label="Record what you did about these results", icon=":material/task_alt:")
