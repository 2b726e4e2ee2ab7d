"""Lead page: record what you did about an alert or a survey result; the team's list of actions."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from ax.actions import ABOUT, TEXT_MAX, ActionError, record_action, team_actions
from ax.alerts import team_alerts
from ax.workload import visible_teams
from pages.common import db_session, require_viewer

ACTION_ALERT_KEY = "action_alert"  # set by the Team overview's "Record action" button
NO_ALERT = 0

viewer = require_viewer()
st.title("Actions")
st.caption(
    "What you did about an alert or a survey result. Shared actions appear on your team's "
    "“You said, we did” page; don't name individuals in a shared action."
)
with db_session() as session:
    teams = visible_teams(session, viewer)
if not teams:
    st.info("You do not lead any team yet. An administrator assigns teams to leads (`ax users`).")
    st.stop()
wanted = st.session_state.get(ACTION_ALERT_KEY)
with db_session() as session:
    alerts_by_team = {t.id: team_alerts(session, viewer, t.id, days=14) for t in teams}
preset = next((t for t in teams if any(a.id == wanted for a in alerts_by_team[t.id])), teams[0])
team = (
    st.selectbox("Team", teams, index=teams.index(preset), format_func=lambda t: t.name, key="actions_team")
    if len(teams) > 1
    else teams[0]
)
alerts = {a.id: a for a in alerts_by_team[team.id]}

with st.form("record_action", clear_on_submit=True):
    options = [NO_ALERT, *alerts]
    alert_id = st.selectbox(
        "About an alert",
        options,
        index=options.index(wanted) if wanted in alerts else 0,
        format_func=lambda i: (
            "— not about an alert —"
            if i == NO_ALERT
            else f"{alerts[i].day:%a %d %b}: {alerts[i].text}" + (" (acted on)" if alerts[i].acted else "")
        ),
        key="action_alert_pick",
    )
    about = st.radio(
        "Otherwise, about",
        [k for k in ABOUT if k != "alert"],
        format_func=ABOUT.get,
        horizontal=True,
        key="action_about",
    )
    text = st.text_area(
        "What did you do?",
        max_chars=TEXT_MAX,
        placeholder="e.g. Moved two people off phones for the afternoon; added a 10-minute break after 2 pm.",
        key="action_text",
    )
    shared = st.checkbox(
        "Show it to the team in “You said, we did”",
        value=True,
        help="Actions about an alert on one person stay with the leads, whatever you tick here.",
        key="action_shared",
    )
    sent = st.form_submit_button("Record action", type="primary")

if sent:
    chosen = None if alert_id == NO_ALERT else alert_id
    try:
        with db_session() as session:
            action = record_action(
                session,
                viewer,
                team.id,
                text,
                about="alert" if chosen else about,
                alert_id=chosen,
                shared=shared,
            )
    except ActionError as exc:
        st.error(str(exc))
    else:
        st.session_state.pop(ACTION_ALERT_KEY, None)
        kept = "" if action.shared else " It is visible to leads only."
        st.success(f"Recorded for {action.team}.{kept}")

with db_session() as session:
    done = team_actions(session, viewer, team.id)
st.subheader(f"Recorded for {team.name}")
if not done:
    st.caption("Nothing recorded yet. Start with an open alert or your latest survey results (Morale).")
for action in done:
    with st.container(border=True):
        local = action.at.astimezone(ZoneInfo(viewer.timezone))
        who = "shared with the team" if action.shared else "leads only"
        st.markdown(f"**{local:%a %d %b, %H:%M}** · {ABOUT[action.about]} · {action.by} · _{who}_")
        st.write(action.text)
        if action.alert_text:
            st.caption(f"Alert: {action.alert_text}")
