"""Admin and HR page: which surveys run, what they ask, how long they stay open, what comes next.

Configuration only: this page never shows an answer. Reads and writes go through
:mod:`ax.survey_admin`, which refuses agents and leads (and audits the refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from ax.survey_admin import (
    CUSTOM_KINDS,
    DefinitionView,
    SurveyConfigError,
    add_custom_item,
    list_definitions,
    planned_windows,
    update_definition,
)
from ax.survey_windows import CADENCES, MAX_WINDOW_DAYS, last_open_day
from db.types import utcnow
from pages.common import db_session, require_viewer

NOTICE = "surveys_admin_notice"
KIND_LABELS = {"likert": "Agreement, 1–5", "scale": "Rating, 0–10", "text": "Free text"}

viewer = require_viewer()
zone = ZoneInfo(viewer.timezone)
with db_session() as session:
    definitions = list_definitions(session, viewer)
    plans = planned_windows(session, viewer)


def _day(moment: datetime) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


def _save(action: Callable[..., Any], *args: Any, notice: str, **kwargs: Any) -> None:
    """Run one change; show why it was refused, or rerun so the page shows the saved state."""
    try:
        with db_session() as session:
            changed = action(session, viewer, *args, **kwargs)
    except SurveyConfigError as exc:
        st.error(str(exc))
        return
    st.session_state[NOTICE] = notice if changed else "Nothing changed."
    st.rerun()


def _items_table(items) -> None:
    st.dataframe(
        [{"question": i.key, "text": i.text, "answered as": i.answer, "from": i.source} for i in items],
        hide_index=True,
    )


def _definition(d: DefinitionView) -> None:
    with st.container(border=True):
        st.subheader(d.title if d.active else f"{d.title} (switched off)")
        changed = f" · changed {_day(d.updated_at)} by {d.updated_by}" if d.updated_by else ""
        st.caption(f"{d.cadence.capitalize()}, open {d.window_days} days{changed}")
        if d.rotation:
            st.markdown(
                "**Rotating questions**: four WHO-5 and CBI work questions a week, so all twelve come "
                "round every three weeks, plus the single burnout question every week."
            )
            st.dataframe(
                [
                    {"week of cycle": n, "question": i.key, "text": i.text}
                    for n, week in enumerate(d.rotation_weeks, start=1)
                    for i in week
                ],
                hide_index=True,
            )
            if d.items:
                st.markdown("**Also asked every week**")
        if d.items:
            _items_table(d.items)
        for note in d.coverage:
            st.caption(note)

        labels = {c.key: f"{c.key} · {c.text[:80]}" for c in d.choices}
        with st.form(f"edit_{d.key}"):
            cols = st.columns(3)
            cadence = cols[0].selectbox(
                "Cadence", CADENCES, index=CADENCES.index(d.cadence), key=f"cadence_{d.key}"
            )
            days = cols[1].number_input(
                "Days open",
                min_value=1,
                max_value=max(MAX_WINDOW_DAYS.values()),
                value=d.window_days,
                key=f"days_{d.key}",
            )
            active = cols[2].toggle("Active", value=d.active, key=f"active_{d.key}")
            rotation = st.checkbox(
                "Rotate the weekly pulse questions",
                value=d.rotation,
                key=f"rotation_{d.key}",
                disabled=not d.rotation and d.cadence != "weekly",
            )
            items = st.multiselect(
                "Questions asked every week on top of the rotation" if d.rotation else "Questions",
                options=list(labels),
                default=[i.key for i in d.items],
                format_func=labels.__getitem__,
                key=f"items_{d.key}",
            )
            if st.form_submit_button("Save"):
                _save(
                    update_definition,
                    d.id,
                    cadence=cadence,
                    window_days=int(days),
                    active=active,
                    rotation=rotation,
                    item_keys=items,
                    notice=f"{d.title}: saved. Changes apply from the next window.",
                )

        with st.form(f"custom_{d.key}", clear_on_submit=True):
            st.markdown("**Add your own question**")
            cols = st.columns([1, 3, 1])
            key = cols[0].text_input("Key", placeholder="team_support", key=f"custom_key_{d.key}")
            text = cols[1].text_input("Question", key=f"custom_text_{d.key}")
            kind = cols[2].selectbox(
                "Answered as",
                [k.value for k in CUSTOM_KINDS],
                format_func=KIND_LABELS.get,
                key=f"custom_kind_{d.key}",
            )
            st.caption("Key: lower-case letters, digits and _, unique; it names the question in exports.")
            if st.form_submit_button("Add question"):
                _save(
                    add_custom_item,
                    d.id,
                    key=key,
                    text=text,
                    kind=kind,
                    notice=f"{d.title}: question {key.strip()!r} added; it is asked from the next window.",
                )


st.title("Surveys")
st.caption(
    f"What is asked, how often and for how long. Answers are never shown here. Times in {viewer.timezone}."
)
if notice := st.session_state.pop(NOTICE, None):
    st.success(notice)
if not definitions:
    st.info("No surveys are defined yet: `ax init` adds the weekly pulse and the monthly check-in.")
for definition in definitions:
    _definition(definition)

st.subheader("Upcoming windows")
if not plans:
    st.caption("No active survey: switch one on above.")
else:
    now = utcnow()
    st.dataframe(
        [
            {
                "survey": p.title,
                "opens": _day(p.opens_at),
                "last day": last_open_day(p.closes_at, zone).strftime("%a %Y-%m-%d"),
                "questions": len(p.items),
                "status": "open now" if p.opens_at <= now else "planned",
            }
            for p in plans
        ],
        hide_index=True,
    )
    st.caption(
        "The weekly pulse is skipped in the week a monthly check-in opens: the check-in asks its burnout "
        "question too. Reminders go to people who have not answered; nobody else learns who that is."
    )
