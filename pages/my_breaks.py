"""Agent page "My breaks": breaks my lead planned for me (take or decline), my requests, asking for one."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from ax.breaks import (
    BreakError,
    BreakView,
    cancel_break,
    my_breaks,
    offered_lengths,
    request_break,
    respond_to_break,
)
from pages.common import (
    chosen_start,
    db_session,
    flash,
    require_viewer,
    show_flash,
    start_inputs,
    time_span,
)

STATUS_WORDS = {
    "planned": "waiting for your answer",
    "suggested": "suggested, waiting for your answer",
    "requested": "you asked; waiting for your lead",
    "accepted": "on",
    "declined": "declined",
    "cancelled": "cancelled",
}

viewer = require_viewer()
tz = viewer.timezone
now = datetime.now(UTC)
with db_session() as session:
    breaks = my_breaks(session, viewer, now=now)


def _span(b: BreakView) -> str:
    return time_span(b.starts_at, b.ends_at, tz, now)


def _act(action: str, break_id: int) -> None:
    """Run one answer through ax/breaks; its outcome (or refusal) is shown after the rerun."""
    try:
        with db_session() as session:
            if action in ("accept", "decline"):
                done = respond_to_break(session, viewer, break_id, action == "accept")
                answer = "taken" if action == "accept" else "declined"
                flash(f"Break {_span(done)} {answer}; your lead sees it now.")
            else:
                done = cancel_break(session, viewer, break_id)
                flash(f"Break {_span(done)} called off.")
    except (BreakError, LookupError) as exc:
        flash(str(exc), "error")


st.title("My breaks")
st.caption(f"Today and later · times in {tz} · your lead sees your answers at once")
show_flash()

open_ = [b for b in breaks if b.ends_at > now and b.status not in ("declined", "cancelled")]
to_answer = [b for b in open_ if b.status in ("planned", "suggested")]
coming = [b for b in open_ if b.status in ("accepted", "requested")]
earlier = [b for b in breaks if b not in open_]

st.subheader("Planned for you")
if not to_answer:
    st.write("Nothing waiting for your answer. When your lead plans a break for you, it shows up here.")
for b in to_answer:
    with st.container(border=True):
        left, accept, decline = st.columns([4, 1, 1], vertical_alignment="center")
        who = f" · planned by {b.created_by_name}" if b.created_by_name else ""
        left.markdown(f"**{b.minutes} min, {_span(b)}**{who}  \n{STATUS_WORDS[b.status]}")
        if b.note:
            left.caption(f"Note: {b.note}")
        accept.button("Take it", key=f"accept_{b.id}", type="primary", on_click=_act, args=("accept", b.id))
        decline.button("Decline", key=f"decline_{b.id}", on_click=_act, args=("decline", b.id))

st.subheader("Coming up")
if not coming:
    st.write("No break agreed yet. Take one planned above, or ask for one below.")
for b in coming:
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        state = (
            ":material/check_circle: agreed"
            if b.status == "accepted"
            else ":material/hourglass_top: " + STATUS_WORDS[b.status]
        )
        left.markdown(f"**{b.minutes} min, {_span(b)}** · {state}")
        if b.note:
            left.caption(f"Note: {b.note}")
        label = "Withdraw request" if b.status == "requested" else "Call off"
        right.button(label, key=f"cancel_{b.id}", on_click=_act, args=("cancel", b.id))

lengths = offered_lengths()
st.subheader("Ask for a break")
with st.form("request_break", border=True):
    minutes = st.select_slider(
        "Length (minutes)", options=lengths, value=10 if 10 in lengths else lengths[0], key="request_minutes"
    )
    choice, day, at = start_inputs("request", tz)
    note = st.text_input("Note for your lead (optional)", max_chars=500, key="request_note")
    asked = st.form_submit_button("Ask for this break", type="primary")
if asked:
    try:
        with db_session() as session:
            done = request_break(
                session, viewer, minutes, note.strip() or None, starts_at=chosen_start(choice, day, at, tz)
            )
        flash(
            f"Asked for {done.minutes} min, {_span(done)}. Your lead sees the request on their Breaks page."
        )
    except (BreakError, LookupError, ValueError) as exc:
        flash(str(exc), "error")
    st.rerun()

if earlier:
    st.subheader("Earlier and closed")
    st.dataframe(
        pd.DataFrame(
            {
                "When": [_span(b) for b in earlier],
                "Minutes": [b.minutes for b in earlier],
                "Status": [b.status for b in earlier],
                "Planned by": [b.created_by_name or "" for b in earlier],
            }
        ),
        hide_index=True,
        width="stretch",
    )
st.caption(
    "Breaks here are short recovery breaks (up to 30 min); meals belong to your shift schedule. "
    "Taking or declining a break is recorded with the time, so your lead knows what to plan around."
)
