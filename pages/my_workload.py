"""Agent page: my own workload today and over recent weeks, against my baseline and my team."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ax.risk_view import own_risk
from ax.settings import get_settings
from ax.wording import duration_text
from ax.workload import my_workload
from pages.common import db_session, minutes, no_data_hint, require_viewer

viewer = require_viewer()
settings = get_settings()
with db_session() as session:
    mine = my_workload(session, viewer)
    risk = own_risk(session, viewer)

st.title("My workload")
st.caption(
    f"{mine.agent_name} · days are your local days ({mine.timezone}) · today is {mine.today:%a %d %b %Y}"
)

if mine.days.empty:
    no_data_hint()
    st.stop()

today = mine.today_row
base = mine.baseline


def _delta(
    value: float | None, reference: float | None, unit: str = "", versus: str = "your 28-day average"
) -> str | None:
    if value is None or reference is None or reference != reference or value != value:
        return None
    return f"{value - reference:+.1f}{unit} vs {versus}"


# Today's running totals set against what the agent usually had by this time of day.
so_far = mine.so_far
usual = f"usual by {so_far.at:%H:%M}" if so_far is not None else ""
cols = st.columns(4)
contacts_today = float(today["contacts"]) if today is not None else 0.0
cols[0].metric(
    "Contacts today",
    f"{contacts_today:.0f}",
    _delta(contacts_today, so_far.contacts if so_far is not None else None, versus=usual),
    delta_color="off",
    help="Usual: your average over the days you worked in the last 28, counting what you had "
    "started by this time of day on each.",
)
hours_today = float(today["handle_hours"]) if today is not None else 0.0
cols[1].metric(
    "Handle time today",
    f"{hours_today:.1f} h",
    _delta(hours_today, so_far.handle_hours if so_far is not None else None, " h", usual),
    delta_color="off",
    help="Handle time of the contacts you started today. Usual: your average by this time of day "
    "over the days you worked in the last 28.",
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


def _known(row: pd.Series | None, column: str) -> float | None:
    """The value, or None when the day is missing or the helpdesk sent no data for it."""
    if row is None or pd.isna(row[column]):
        return None
    return float(row[column])


# Today when worked, else the latest worked day (a day off should not blank the picture).
latest = today if today is not None else mine.days.iloc[-1]
when = "today" if today is not None else f"on {latest['day']:%a %d %b}"
occupancy = _known(latest, "occupancy")
stretch = _known(latest, "longest_stretch_seconds")
cols = st.columns(3)
cols[0].metric(
    f"Occupancy {when}",
    "unknown" if occupancy is None else f"{occupancy:.0%}",
    help=(
        f"Time handling contacts ÷ time available for them. Above {settings.occupancy_alert:.0%} "
        "for days on end is overload. Unknown when your helpdesk sends no status data (available, "
        "break) for the day: that is missing data, not zero."
    ),
)
cols[1].metric(
    f"Longest stretch without a break {when}",
    "unknown" if stretch is None else duration_text(stretch),
    help=f"On queue with no pause of {settings.break_min_minutes} min or more. "
    f"Over {duration_text(settings.stretch_warning_minutes * 60)}: time for a break.",
)
cols[2].metric(
    f"Back-to-back contacts {when}",
    f"{int(latest['back_to_back'])}",
    help=f"Contacts that started within {settings.back_to_back_seconds} s of the previous one ending.",
)
if occupancy is None:
    st.caption(f"Occupancy and breaks are unknown {when}: no status data has arrived for you for that day.")

st.subheader("How you're doing")
if risk.level is None:
    st.write("Not enough recent activity to say yet.")
else:
    st.markdown(f"**Level: {risk.level.value}** — a prompt to talk, not a diagnosis.")
    if risk.drivers:
        st.markdown("\n".join(f"- {driver.text}" for driver in risk.drivers))
    else:
        st.write("Nothing sustained stands out in your recent days.")
    st.caption(
        "Your lead sees the same level computed from workload only; survey answers shape only the "
        "level you see here."
    )

if base is not None:
    st.caption(
        f"Your 28-day average: {base['contacts']:.0f} contacts a worked day, "
        f"{base['handle_hours']:.1f} h handling, "
        f"AHT {minutes(base['aht_seconds'])}."
    )

st.subheader("Contacts per day")
# Whole days only: today so far is at the top, and a day not over yet would read as a drop.
past = mine.days[mine.days["day"] < mine.today].copy()
if past.empty:
    st.caption("Your days show here from tomorrow; today so far is at the top.")
else:
    past["day"] = pd.to_datetime(past["day"])
    bars = (
        alt.Chart(past)
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
    median = mine.team_median[mine.team_median["day"] < mine.today].copy()
    if not median.empty:
        median["day"] = pd.to_datetime(median["day"])
        layers.append(
            alt.Chart(median)
            .mark_line(color="#F58518", strokeDash=[4, 3], point=True)
            .encode(
                x="day:T",
                y="median_contacts:Q",
                tooltip=[alt.Tooltip("median_contacts:Q", title="Team median")],
            )
        )
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption(
        "Days before today. Bars: your contacts. Dashed line: your team's median, for comparison, "
        "not a target."
    )

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
