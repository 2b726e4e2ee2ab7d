"""Agent page: "You said, we did": what the leads of my teams did, as they shared it with the team."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from ax.actions import ABOUT, you_said_we_did
from pages.common import db_session, require_viewer

viewer = require_viewer()
st.title("You said, we did")
st.caption(
    "What your team leads did about your team's workload and survey results. Survey results reach "
    "leads only as team figures of at least 5 people; your own answers are never shown to them."
)
with db_session() as session:
    actions = you_said_we_did(session, viewer)
if not actions:
    st.info(
        "Nothing shared with your team yet. Your check-in answers, combined with your colleagues', "
        "tell your lead what to work on; what they do about it appears here."
    )
    st.stop()
for action in actions:
    with st.container(border=True):
        local = action.at.astimezone(ZoneInfo(viewer.timezone))
        st.markdown(f"**{local:%a %d %b %Y}** · {action.team} · {action.by} · {ABOUT[action.about].lower()}")
        st.write(action.text)
