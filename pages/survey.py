"""Agent page "Check-in": answer the open pulse survey in under a minute, then see my own history.

Built for a phone first: one column, one compact form, no tables. Answers go to ax/surveys, which
checks them all before storing any; its messages are shown under the question they are about.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from ax.access import Viewer
from ax.instruments import INSTRUMENTS, Item, ItemKind
from ax.settings import get_settings
from ax.surveys import (
    MEASURES,
    CheckIn,
    HistoryPoint,
    OpenSurvey,
    Receipt,
    SurveyError,
    check_in,
    history_summary,
    measure_summary,
    my_history,
    recall_of,
    submit_answers,
)
from pages.common import db_session, require_viewer

SENT = "checkin_sent"  # the Receipt of the last submit, shown once
PROBLEM = "checkin_problem"  # (survey id, SurveyError) of the last refused submit
SKIP = "skip"
SHORT_LABELS = 40  # choices whose labels together are at most this long sit side by side


def _key(survey: OpenSurvey, item: Item) -> str:
    return f"checkin-{survey.id}-{item.key}"


def _local(moment: datetime, viewer: Viewer) -> datetime:
    return moment.astimezone(ZoneInfo(viewer.timezone))


def _when(moment: datetime, viewer: Viewer) -> str:
    return f"{_local(moment, viewer):%a %d %b, %H:%M}"


def _send(viewer: Viewer, survey: OpenSurvey) -> None:
    """Form callback: runs before the rerun, so the page that follows already shows the outcome."""
    answers = {}
    for item in survey.items:
        value = st.session_state.get(_key(survey, item))
        answers[item.key] = None if value == SKIP else value
    st.session_state.pop(PROBLEM, None)
    with db_session() as session:
        try:
            st.session_state[SENT] = submit_answers(session, viewer, survey.id, answers)
        except SurveyError as exc:
            st.session_state[PROBLEM] = (survey.id, exc)


def _question(number: int, survey: OpenSurvey, item: Item) -> None:
    """One question, drawn for a thumb: numbers and short labels side by side, long labels stacked."""
    label = f"{number}. {item.text}"  # plain text: it is also the screen-reader label
    key = _key(survey, item)
    if item.kind is ItemKind.TEXT:
        st.text_area(
            label,
            key=key,
            max_chars=item.max_length,
            height=90,
            placeholder="Optional",
        )
        return
    options = list(range(item.min, item.max + 1))
    if item.kind is ItemKind.SCALE or sum(len(text) for text in item.labels) <= SHORT_LABELS:
        st.segmented_control(
            label,
            options,
            format_func=(lambda v: item.labels[v - item.min]) if item.labels else str,
            key=key,
            wrap=True,
            help="Tap your answer again to clear it.",
        )
        if item.anchors:
            st.caption(f"{item.min} = {item.anchors[0]} · {item.max} = {item.anchors[1]}")
        return
    st.radio(
        label,
        [*options, SKIP],
        index=None,
        format_func=lambda v: "Skip this question" if v == SKIP else item.labels[v - item.min],
        key=key,
    )


def _form(viewer: Viewer, survey: OpenSurvey, problem: SurveyError | None, more: int) -> None:
    st.subheader(survey.title)
    st.caption(
        f"Open until {_when(survey.closes_at, viewer)} · {len(survey.items)} questions, under a minute. "
        "Skip any question you'd rather not answer."
    )
    errors = problem.errors if problem is not None and problem.reason == "invalid" else {}
    with st.form(f"checkin-{survey.id}", border=False):
        recall = None
        for number, item in enumerate(survey.items, 1):
            if recall_of(item) and recall_of(item) != recall:
                st.markdown(f"*{recall_of(item)}…*")
            recall = recall_of(item)
            _question(number, survey, item)
            if item.key in errors:
                st.error(errors[item.key], icon=":material/error:")
        st.info(
            f"Your lead and HR never see your answers, only team results when at least "
            f"{get_settings().min_group_size} people answered; you can see your own history below.",
            icon=":material/lock:",
        )
        if problem is not None:
            st.error(str(problem))
        st.form_submit_button(
            "Send my answers",
            type="primary",
            key="checkin_send",
            on_click=_send,
            args=(viewer, survey),
            width="stretch",
        )
    if more:
        st.caption(f"{more} more check-in{'s' if more > 1 else ''} open after this one.")


def _empty(viewer: Viewer, status: CheckIn, just_sent: int | None) -> None:
    for done in status.answered:
        if done.id == just_sent:
            continue  # the thank-you above says it already
        st.success(
            f"You've answered “{done.title}”: thank you. It stays open until {_when(done.closes_at, viewer)} "
            "for the others.",
            icon=":material/check_circle:",
        )
    text = "" if status.answered else "No check-in is open right now. "
    if status.next_opens_at is not None:
        text += f"The next one opens on {_when(status.next_opens_at, viewer)}."
    else:
        text += "You'll find the next one here when it opens."
    st.info(text)


def _chart(points: list[HistoryPoint], viewer: Viewer) -> None:
    """One small chart per measure: its line, a labelled threshold, and shapes that name the band.

    Colour carries nothing on its own: a triangle marks a score worth a conversation, the threshold
    line has its words beside it, and the chart's alt text is the same sentence as the summary.
    """
    for measure in MEASURES:
        mine = [p for p in points if p.instrument == measure.instrument]
        if not mine:
            continue
        frame = pd.DataFrame(
            {
                "answered": [_local(p.at, viewer).replace(tzinfo=None) for p in mine],
                "score": [p.value for p in mine],
                "level": [p.band for p in mine],
                "check-in": [p.survey_title for p in mine],
                "worth a conversation": ["yes" if p.concern else "no" for p in mine],
            }
        )
        first, last = frame["answered"].min(), frame["answered"].max()
        pad = max(pd.Timedelta(days=3), (last - first) / 20)  # one point still gets a readable axis
        x = alt.X(
            "answered:T",
            title=None,
            scale=alt.Scale(domain=[(first - pad).isoformat(), (last + pad).isoformat()]),
            axis=alt.Axis(format="%d %b", labelAngle=0, tickCount=4),
        )
        y = alt.Y("score:Q", title=None, scale=alt.Scale(domain=[measure.low, measure.high]))
        line = alt.Chart(frame).mark_line(color="#4C78A8").encode(x=x, y=y)
        dots = (
            alt.Chart(frame)
            .mark_point(filled=True, size=80, color="#4C78A8")
            .encode(
                x=x,
                y=y,
                shape=alt.Shape(
                    "worth a conversation:N",
                    scale=alt.Scale(domain=["no", "yes"], range=["circle", "triangle-down"]),
                    legend=None,
                ),
                tooltip=["check-in", alt.Tooltip("answered:T", format="%d %b %Y"), "score", "level"],
            )
        )
        threshold = pd.DataFrame({"score": [measure.threshold], "label": [measure.threshold_label]})
        rule = alt.Chart(threshold).mark_rule(color="#888", strokeDash=[4, 3]).encode(y="score:Q")
        note = (
            alt.Chart(threshold)
            .mark_text(align="left", baseline="bottom", dx=4, dy=-3, color="#555")
            .encode(y="score:Q", x=alt.value(0), text="label:N")
        )
        flags = any(band.concern for band in INSTRUMENTS[measure.instrument].bands)
        shapes = "▼ worth a conversation · ● usual range" if flags else "● your answer"
        title = alt.TitleParams(measure.title, subtitle=f"{shapes} · {measure.direction}", anchor="start")
        st.altair_chart(
            alt.layer(line, dots, rule, note).properties(title=title, height=220),
            width="stretch",
            alt=measure_summary(measure, points, viewer.timezone),
        )


def _history(viewer: Viewer, points: list[HistoryPoint]) -> None:
    st.subheader("Your history")
    if not points:
        st.info("Your scores appear here after a check-in with enough answers to score. Only you see them.")
        return
    st.caption("Only you can see this. Each check-in is scored on its own; dashed lines mark the thresholds.")
    _chart(points, viewer)
    st.markdown("\n".join(f"- {line}" for line in history_summary(points, viewer.timezone)))


viewer = require_viewer()
with db_session() as session:
    status = check_in(session, viewer)
    history = my_history(session, viewer)

st.title("Check-in")
receipt: Receipt | None = st.session_state.pop(SENT, None)
if receipt is not None:
    skipped = f", {receipt.skipped} skipped" if receipt.skipped else ""
    st.success(
        f"Thank you! Your answers to “{receipt.title}” are saved ({receipt.answered} answered{skipped}). "
        "Your history is below.",
        icon=":material/favorite:",
    )
problem_of: tuple[int, SurveyError] | None = st.session_state.get(PROBLEM)
open_ids = {survey.id for survey in status.open}
if problem_of is not None and problem_of[0] not in open_ids:
    st.session_state.pop(PROBLEM)  # answered meanwhile, or closed: say so once, above everything
    st.warning(str(problem_of[1]))
    problem_of = None

if status.open:
    current = status.open[0]
    problem = problem_of[1] if problem_of is not None and problem_of[0] == current.id else None
    _form(viewer, current, problem, len(status.open) - 1)
else:
    _empty(viewer, status, receipt.survey_id if receipt is not None else None)

_history(viewer, history)
