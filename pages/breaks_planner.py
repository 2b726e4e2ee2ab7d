"""Lead page "Breaks": who can take a break now, for how long, without service level falling below target.

ax/breaks.plan_breaks does the work (Erlang C on the team's live load, ranking by recovery need);
this page draws its answer, schedules breaks, and decides the agents' requests.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from ax.breaks import (
    BreakError,
    BreakPlan,
    BreakView,
    Candidate,
    cancel_break,
    decide_request,
    offered_lengths,
    pending_requests,
    plan_breaks,
    planner_teams,
    schedule_break,
    team_breaks,
    team_members,
)
from ax.settings import get_settings
from ax.workload import local_today
from pages.common import (
    chosen_start,
    db_session,
    flash,
    local_time,
    require_viewer,
    show_flash,
    start_inputs,
    time_span,
)

WITHOUT, WITH = "without this break", "with this break"
OPEN = ("planned", "suggested", "requested", "accepted")

viewer = require_viewer()
tz = viewer.timezone
settings = get_settings()
now = datetime.now(UTC)
durations = offered_lengths(settings)
with db_session() as session:
    teams = planner_teams(session, viewer)
    waiting = {t.id: len(pending_requests(session, viewer, t.id, now)) for t in teams}

st.title("Breaks")
if not teams:
    st.info("You do not lead any team yet. An administrator assigns teams to leads (`ax users`).")
    st.stop()


def _team_label(team) -> str:
    n = waiting[team.id]
    return f"{team.name} ({n} request{'s' if n != 1 else ''} waiting)" if n else team.name


team = st.selectbox("Team", teams, format_func=_team_label, key="breaks_team") if len(teams) > 1 else teams[0]
with db_session() as session:
    plan = plan_breaks(session, viewer, team.id, now, durations=durations)
    requests = pending_requests(session, viewer, team.id, now)
    members = team_members(session, viewer, team.id)
    day = local_today(tz)  # breaks are planned up to 24 h ahead: today's and tomorrow's
    planned = [b for d in (day, day + timedelta(days=1)) for b in team_breaks(session, viewer, team.id, d)]


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def _span(b: BreakView) -> str:
    return time_span(b.starts_at, b.ends_at, tz, now)


def _decide(break_id: int, approve: bool) -> None:
    try:
        with db_session() as session:
            done = decide_request(session, viewer, break_id, approve)
        verdict = "approved" if approve else "declined"
        flash(f"{done.agent_name}'s break {_span(done)} {verdict}; they see it on My breaks now.")
    except (BreakError, LookupError) as exc:
        flash(str(exc), "error")


def _cancel(break_id: int) -> None:
    try:
        with db_session() as session:
            done = cancel_break(session, viewer, break_id)
        flash(f"{done.agent_name}'s break {_span(done)} called off.")
    except (BreakError, LookupError) as exc:
        flash(str(exc), "error")


def _option_text(candidate: Candidate | None, minutes: int) -> str:
    """The forecast for a break of ``minutes`` by ``candidate`` starting now, in words."""
    if candidate is None:
        return "Not on the queue now, so the break does not change the forecast."
    option = next((o for o in candidate.options if o.minutes == minutes), None)
    return option.why if option else "No forecast for that length."


def _forecast_chart(plan: BreakPlan, minutes: int) -> alt.LayerChart | None:
    """Each candidate's forecast service level without and with a ``minutes`` break now, and the target."""
    rows = []
    for c in plan.candidates:
        option = next(o for o in c.options if o.minutes == minutes)
        verdict = "safe" if option.safe else "not safe"
        for scenario, value in (
            (WITHOUT, option.service_level_without_break),
            (WITH, option.service_level_with_break),
        ):
            if value is not None:
                rows.append(
                    {
                        "agent": f"{c.rank}. {c.name}",
                        "scenario": scenario,
                        "service_level": value,
                        "verdict": verdict,
                    }
                )
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    order = [f"{c.rank}. {c.name}" for c in plan.candidates]
    low = max(0.0, math.floor((min(frame["service_level"].min(), plan.target) - 0.05) * 10) / 10)
    x = alt.X(
        "service_level:Q",
        title=f"Forecast service level ({minutes}-min break now)",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[low, 1.0]),
    )
    base = alt.Chart(frame).encode(
        y=alt.Y("agent:N", title=None, sort=order, axis=alt.Axis(labelOverlap=False))
    )
    line = base.mark_line(color="#999").encode(x=x, detail="agent:N")
    points = base.mark_point(size=110, filled=True, opacity=1).encode(
        x=x,
        color=alt.Color(
            "scenario:N", title=None, scale=alt.Scale(domain=[WITHOUT, WITH], range=["#4C78A8", "#E45756"])
        ),
        shape=alt.Shape(
            "scenario:N", title=None, scale=alt.Scale(domain=[WITHOUT, WITH], range=["circle", "diamond"])
        ),
        tooltip=["agent", "scenario", alt.Tooltip("service_level:Q", format=".1%"), "verdict"],
    )
    marks = pd.DataFrame({"target": [plan.target], "text": [f"target {plan.target:.0%}"]})
    target = alt.Chart(marks).mark_rule(strokeDash=[5, 4], color="black").encode(x="target:Q")
    label = (
        alt.Chart(marks)
        .mark_text(align="left", dx=4, dy=-4, baseline="bottom")
        .encode(x="target:Q", y=alt.value(0), text="text:N")
    )
    return (line + points + target + label).properties(height=40 * len(order) + 20)


st.caption(
    f"{team.name} · as of {local_time(now, tz)} ({tz}) · target: {settings.service_level_target:.0%} of "
    f"contacts answered within {settings.service_level_seconds} s"
)
show_flash()

# --- live load -----------------------------------------------------------------------------------
live = plan.live
cols = st.columns(5)
arrivals = live.arrivals_per_hour.value
cols[0].metric(
    "Arrivals", "unknown" if arrivals is None else f"{arrivals:.0f} / h", help=live.arrivals_per_hour.note
)
aht = live.aht_seconds.value
cols[1].metric(
    "Handle time (AHT)", "unknown" if aht is None else f"{aht / 60:.1f} min", help=live.aht_seconds.note
)
agents = live.agents_available.value
cols[2].metric("On the queue", "unknown" if agents is None else f"{agents}", help=live.agents_available.note)
cols[3].metric(
    "Waiting now",
    "unknown" if live.waiting.value is None else f"{live.waiting.value}",
    help=live.waiting.note,
)
below = plan.service_level_now is not None and plan.service_level_now < plan.target
cols[4].metric(
    "Service level now",
    _pct(plan.service_level_now),
    None if plan.service_level_now is None else ("below target" if below else "on target"),
    delta_color="inverse" if below else "normal",
    help="Erlang C forecast from the arrivals, handle time and agents on the queue.",
)
if live.missing:
    st.warning(
        "**No forecast right now.** "
        + " ".join(f"{why[0].upper()}{why[1:]}." for why in live.missing)
        + " If your team is working, check Sync health with an administrator; the planner needs live "
        "contacts and status data from the last hour."
    )
elif plan.spare_agents is not None:
    spare = plan.spare_agents
    st.info(
        f"Up to **{spare} agent{'s' if spare != 1 else ''}** can be on a break at the same time right now "
        "with service level still on target."
        if spare
        else "**Nobody can go on a break right now** without service level falling below target."
    )

# --- requests ------------------------------------------------------------------------------------
st.subheader(f"Requests waiting for you ({len(requests)})")
if not requests:
    st.write("No break requests from your team. Agents ask for breaks on their My breaks page.")
by_agent = {c.agent_id: c for c in plan.candidates}
for r in requests:
    with st.container(border=True):
        left, approve, decline = st.columns([4, 1, 1], vertical_alignment="center")
        left.markdown(f"**{r.agent_name}** asks for **{r.minutes} min, {_span(r)}**")
        if r.note:
            left.caption(f"Note: {r.note}")
        if (r.starts_at - now).total_seconds() <= 300:
            left.caption("If taken now: " + _option_text(by_agent.get(r.agent_id), r.minutes))
        else:
            left.caption("The forecast covers now only; the request starts later.")
        approve.button("Approve", key=f"approve_{r.id}", type="primary", on_click=_decide, args=(r.id, True))
        decline.button("Decline", key=f"decline_{r.id}", on_click=_decide, args=(r.id, False))

# --- who can go now ------------------------------------------------------------------------------
st.subheader("Who can take a break now")
if not plan.candidates:
    st.write(
        "Nobody on the queue to rank right now. "
        + ("" if live.missing else "Agents appear here while their status is available, busy or online.")
    )
else:
    st.caption(
        "Ranked by recovery need: time on the queue since the last break, hard contacts since then, "
        "and today's occupancy (each is 1 at its threshold). Each answer assumes only that one break; "
        "after scheduling one, the plan is recomputed."
    )
    minutes = (
        st.segmented_control(
            "Break length (minutes)",
            durations,
            default=10 if 10 in durations else durations[0],
            key="plan_minutes",
        )
        or durations[0]
    )
    chart = _forecast_chart(plan, minutes)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
        st.caption(
            "Dashed line: the service-level target. A break is safe when the diamond (with the break) "
            "stays right of it; the circle is the forecast without it."
        )
    options = [next(o for o in c.options if o.minutes == minutes) for c in plan.candidates]
    table = pd.DataFrame(
        {
            "Rank": [c.rank for c in plan.candidates],
            "Agent": [c.name for c in plan.candidates],
            "Recovery need": [c.score for c in plan.candidates],
            "Longest safe break now": [
                f"{c.longest_safe_minutes} min" if c.longest_safe_minutes else "none" for c in plan.candidates
            ],
            "SL without": [_pct(o.service_level_without_break) for o in options],
            f"SL with {minutes} min": [_pct(o.service_level_with_break) for o in options],
            "Answer": [c.why for c in plan.candidates],
            "Why this rank": [c.need for c in plan.candidates],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Recovery need": st.column_config.ProgressColumn(
                min_value=0, max_value=6, format="%.2f", help="Each part is 1 at its threshold, at most 2."
            ),
            "Answer": st.column_config.TextColumn(width="large"),
            "Why this rank": st.column_config.TextColumn(width="large"),
        },
    )

# --- schedule ------------------------------------------------------------------------------------
st.subheader("Schedule a break")
ranked = [c.agent_id for c in plan.candidates]
names = dict(members)
choices = ranked + [a for a, _ in members if a not in by_agent]
if not choices:
    st.write("Nobody in this team yet.")
else:

    def _who(agent_id: int) -> str:
        c = by_agent.get(agent_id)
        if c is None:
            return f"{names.get(agent_id, agent_id)} — not on the queue now"
        best = f"up to {c.longest_safe_minutes} min now" if c.longest_safe_minutes else "no safe break now"
        return f"{c.rank}. {c.name} — {best}"

    with st.form("schedule_break", border=True):
        agent_id = st.selectbox("Agent", choices, format_func=_who, key="schedule_agent")
        length = st.select_slider(
            "Length (minutes)",
            options=durations,
            value=durations[min(1, len(durations) - 1)],
            key="schedule_minutes",
        )
        choice, day, at = start_inputs("schedule", tz)
        note = st.text_input("Note for the agent (optional)", max_chars=500, key="schedule_note")
        scheduled = st.form_submit_button("Schedule break", type="primary")
    if scheduled:
        start = chosen_start(choice, day, at, tz)
        try:
            with db_session() as session:
                done = schedule_break(
                    session, viewer, agent_id, start or datetime.now(UTC), length, note.strip() or None
                )
            forecast = f" Forecast: {_option_text(by_agent.get(agent_id), length)}" if start is None else ""
            planned = f"Planned {done.minutes} min for {done.agent_name}, {_span(done)}"
            flash(f"{planned}; they see it on My breaks now.{forecast}")
        except (BreakError, LookupError, ValueError) as exc:
            flash(str(exc), "error")
        st.rerun()

# --- the plan --------------------------------------------------------------------------------------
st.subheader("Planned breaks, today and tomorrow")
if not planned:
    st.write("No breaks planned or requested yet. Schedule one above; agents' requests appear here too.")
else:
    frame = pd.DataFrame(
        {
            "Agent": [b.agent_name for b in planned],
            "When": [_span(b) for b in planned],
            "Minutes": [b.minutes for b in planned],
            "Status": [b.status for b in planned],
            "Asked by agent": ["yes" if b.requested_by_agent else "" for b in planned],
            "Note": [b.note or "" for b in planned],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    still_open = [b for b in planned if b.status in OPEN and b.ends_at > now]
    if still_open:
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        pick = left.selectbox(
            "Call off a break",
            [b.id for b in still_open],
            format_func=lambda i: next(
                f"{b.agent_name}, {_span(b)} ({b.status})" for b in still_open if b.id == i
            ),
            key="cancel_pick",
        )
        right.button("Call off", key="cancel_break", on_click=_cancel, args=(pick,))
