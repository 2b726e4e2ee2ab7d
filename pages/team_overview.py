"""Lead page: alerts to act on, the queue today, agents × days for a chosen indicator, who is over a
threshold and for how long. Per-agent or team-level rows are decided in ax/, by the privacy profile."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ax.access import Viewer
from ax.alerts import team_alerts
from ax.settings import get_settings
from ax.team_view import (
    INDICATORS,
    NO_STATUS,
    SO_FAR,
    OverThresholds,
    QueueToday,
    TeamPicture,
    heatmap_cells,
    over_thresholds,
    queue_today,
    team_picture,
)
from ax.wording import shown
from ax.workload import visible_teams
from db.types import utcnow
from pages.common import db_session, minutes, no_data_hint, require_viewer

ACTION_ALERT_KEY = "action_alert"  # the Actions page preselects this alert


@st.cache_data(ttl=300, show_spinner=False)
def _picture(
    viewer: Viewer, team_id: int, today: str, profile: str, store: str
) -> tuple[TeamPicture, OverThresholds]:
    """Cached per viewer, team, day, privacy profile and store: switching indicators reads nothing again."""
    with db_session() as session:
        return team_picture(session, viewer, team_id), over_thresholds(session, viewer, team_id)


@st.cache_data(ttl=60, show_spinner=False)
def _queue_now(viewer: Viewer, team_id: int, minute: str, store: str) -> QueueToday:
    """The live queue, read at most once a minute per viewer and team."""
    with db_session() as session:
        return queue_today(session, viewer, team_id, utcnow())


def _team_picker(viewer: Viewer):
    with db_session() as session:
        teams = visible_teams(session, viewer)
    if not teams:
        st.info("You do not lead any team yet. An administrator assigns teams to leads (`ax users`).")
        st.stop()
    if len(teams) == 1:
        return teams[0]
    return st.selectbox("Team", teams, format_func=lambda t: t.name, key="team")


def _alerts(viewer: Viewer, team_id: int) -> None:
    with db_session() as session:
        alerts = team_alerts(session, viewer, team_id, open_only=True)
    st.subheader("Alerts to act on")
    if not alerts:
        st.caption("No open alerts in the last 7 days. New ones also reach you in the sidebar.")
        return
    for alert in alerts[:5]:
        with st.container(border=True):
            left, right = st.columns([5, 1], vertical_alignment="center")
            left.markdown(f"**{alert.day:%a %d %b}** · {alert.text}")
            if right.button("Record action", key=f"act_{alert.id}"):
                st.session_state[ACTION_ALERT_KEY] = alert.id
                st.switch_page("pages/actions.py")
    if len(alerts) > 5:
        st.caption(f"{len(alerts) - 5} more on the Actions page.")


def _queue(viewer: Viewer, team_id: int) -> None:
    queue = _queue_now(viewer, team_id, f"{utcnow():%Y-%m-%d %H:%M}", get_settings().database_url)
    st.subheader("Queue now and today")
    live = queue.live
    cols = st.columns(4)
    cols[0].metric("Waiting now", "unknown" if live.waiting.value is None else f"{live.waiting.value}")
    cols[1].metric(
        "Longest wait now",
        "unknown" if live.longest_wait_seconds.value is None else minutes(live.longest_wait_seconds.value),
    )
    level = "none yet" if queue.service_level_today is None else f"{queue.service_level_today:.0%}"
    cols[2].metric(
        "Service level today",
        level,
        help=f"Share of the {queue.answered_today} live contacts answered since midnight that waited at most "
        f"{queue.target_seconds} s; the target is {queue.target:.0%}. None yet: none answered today so far.",
    )
    cols[3].metric(
        "Agents on the queue",
        "unknown" if live.agents_available.value is None else f"{live.agents_available.value}",
    )
    st.caption(
        f"Waiting and longest wait: {live.waiting.note}. Agents: {live.agents_available.note}. "
        f"Service level: answered within {queue.target_seconds} s, target {queue.target:.0%}."
    )
    if queue.hourly.empty:
        st.caption("No queue snapshots or live contacts today yet.")
        return
    hourly = queue.hourly.assign(hour=pd.to_datetime(queue.hourly["hour"]).dt.strftime("%H:%M"))
    charts = (
        ("waiting", "Waiting (peak per hour)", ",.0f"),
        ("longest_wait_minutes", "Longest wait (min)", ",.1f"),
        ("service_level", "Service level", ".0%"),
    )
    for column, (field, title, fmt) in zip(st.columns(3), charts, strict=True):
        points = hourly[["hour", field]].dropna()
        if points.empty:
            column.caption(f"{title}: no data today yet.")
            continue
        line = (
            alt.Chart(points)
            .mark_line(point=True)
            .encode(
                x=alt.X("hour:O", title=f"Hour today ({viewer.timezone})", axis=alt.Axis(labelAngle=0)),
                y=alt.Y(f"{field}:Q", title=title, axis=alt.Axis(format=fmt)),
                tooltip=[
                    alt.Tooltip("hour:O", title="Hour"),
                    alt.Tooltip(f"{field}:Q", title=title, format=fmt),
                ],
            )
            .properties(height=180)
        )
        column.altair_chart(line, width="stretch")


def _heatmap(picture: TeamPicture, indicator: str) -> None:
    ind = INDICATORS[indicator]
    cells = heatmap_cells(picture, indicator)
    threshold = ind.describe_threshold(get_settings())
    rows = cells["row"].nunique()
    days = [f"{d:%a %d %b}" for d in picture.days]
    base = alt.Chart(cells).encode(
        x=alt.X(
            "day:O",
            title=None,
            sort=days,
            scale=alt.Scale(domain=days),
            # every day named: "Tue 24" fits a column; Vega's overlap check measured the whole label
            axis=alt.Axis(
                orient="top",
                labelAngle=0,
                labelExpr="slice(datum.label, 0, 6)",
                labelOverlap=False,
                labelFlush=False,
            ),
        ),
        y=alt.Y("row:N", title=None),
    )
    known = base.transform_filter((alt.datum.state != NO_STATUS) & (alt.datum.state != SO_FAR)).mark_rect()
    heat = known.encode(
        color=alt.Color(
            "value:Q", title=ind.label, scale=alt.Scale(scheme="orangered"), legend=alt.Legend(format=ind.fmt)
        ),
        tooltip=[
            alt.Tooltip("row:N", title="Agent" if picture.per_agent else "Team"),
            alt.Tooltip("day:O", title="Day"),
            alt.Tooltip("label:N", title=ind.label),
        ],
    )
    unknown, not_in_yet = (
        base.transform_filter(alt.datum.state == state)
        .mark_rect(color=grey)
        .encode(tooltip=[alt.Tooltip("row:N"), alt.Tooltip("day:O"), alt.Tooltip("state:N", title="")])
        for state, grey in ((NO_STATUS, "#e5e5e5"), (SO_FAR, "#f5f5f5"))
    )
    labels = base.mark_text(fontSize=10).encode(
        text="label:N",
        color=alt.condition(alt.datum.state == "above", alt.value("white"), alt.value("black")),
    )
    # autosize "fit" counts the axis in the height: 30 px per row plus room for the day labels
    st.altair_chart((heat + unknown + not_in_yet + labels).properties(height=30 * rows + 50), width="stretch")
    notes = ["Empty cells: no recorded work that day.", f"Grey “n/a”: {NO_STATUS} (unknown, not zero)."]
    if (cells["state"] == SO_FAR).any():
        notes.append("“…”: today so far; status data arrives as each interval ends.")
    if threshold:
        notes.append(f"▲ {threshold} ({ind.label}).")
    st.caption(" ".join(notes))


def _over_thresholds(over: OverThresholds) -> None:
    st.subheader("Over a threshold now")
    if over.no_status:
        st.caption(
            f"{over.no_status} of {over.agents_recent} agents have {NO_STATUS} on their latest working day: "
            "their occupancy and breaks are unknown, not fine."
        )
    if not over.streaks:
        st.caption("Nobody is over a threshold on their latest working day.")
        return
    table = pd.DataFrame(
        [
            (s.who, s.signal, f"{s.days_above} of {s.of_days}", f"{s.latest_day:%a %d %b}", s.text)
            for s in over.streaks
        ],
        columns=[
            "Agent" if over.per_agent else "Agents",
            "Signal",
            "Days over (last 5 worked)",
            "Latest",
            "What",
        ],
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _latest_day(picture: TeamPicture) -> None:
    st.subheader("Latest worked day per agent")
    frame = picture.latest.merge(picture.risk, on="agent", how="left")
    day = pd.to_datetime(frame["day"]).dt.strftime("%a %d %b")
    table = pd.DataFrame(
        {
            "Agent": frame["agent"],
            "Day": day.where(~frame["so_far"].astype(bool), day + " (so far)"),
            "Contacts": frame["contacts"],
            "AHT (min)": frame["aht_minutes"],
            "Occupancy": shown(frame["occupancy"], "{:.0%}", NO_STATUS),
            "Back-to-back": frame["back_to_back"],
            "Hard contacts": frame["hard_contacts"],
            "Risk (workload)": frame["level"].fillna("not computed"),
            "Why": frame["drivers"].fillna(""),
        }
    ).sort_values("Agent")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"AHT (min)": st.column_config.NumberColumn(format="%.1f")},
    )
    st.caption(
        "Each agent's latest working day that has ended (today so far only for someone with no "
        "earlier day here). Today's figures fill in through the day in the grid above."
    )


viewer = require_viewer()
st.title("Team overview")
team = _team_picker(viewer)
_alerts(viewer, team.id)
_queue(viewer, team.id)

settings = get_settings()
picture, over = _picture(
    viewer, team.id, utcnow().date().isoformat(), settings.privacy_profile, settings.database_url
)
st.subheader("Agents × days" if picture.per_agent else "Team × days")
indicator = st.segmented_control(
    "Indicator",
    list(INDICATORS),
    format_func=lambda key: INDICATORS[key].label,
    default="occupancy",
    key="indicator",
)
st.caption(
    f"{picture.team} · {picture.agents} agents · last {len(picture.days)} days · each agent's own local days"
)
if picture.empty:
    no_data_hint()
    st.stop()
if not picture.per_agent:
    st.info("This deployment's privacy profile shows team figures only, not per-agent numbers.")
_heatmap(picture, indicator or "occupancy")
if picture.per_agent:
    _latest_day(picture)
_over_thresholds(over)
