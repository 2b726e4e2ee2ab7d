"""Small helpers shared by the pages: the signed-in viewer, the store session, formatting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import streamlit as st
from sqlmodel import Session

from ax import store
from ax.access import AccessDenied, Viewer
from ax.settings import ConfigError, get_settings
from db.engine import DatabaseError

VIEWER_KEY = "ax_viewer"
SIGNED_IN_AT_KEY = "ax_signed_in_at"


def current_viewer() -> Viewer | None:
    """The signed-in viewer, or None when nobody is signed in or the session has expired."""
    viewer = st.session_state.get(VIEWER_KEY)
    if viewer is None:
        return None
    if time.time() - st.session_state.get(SIGNED_IN_AT_KEY, 0) > get_settings().session_minutes * 60:
        sign_out()
        st.session_state["ax_notice"] = "Your session expired. Please sign in again."
        return None
    return viewer


def remember(viewer: Viewer) -> None:
    st.session_state[VIEWER_KEY] = viewer
    st.session_state[SIGNED_IN_AT_KEY] = time.time()


def sign_out() -> None:
    st.session_state.pop(VIEWER_KEY, None)
    st.session_state.pop(SIGNED_IN_AT_KEY, None)


def require_viewer() -> Viewer:
    viewer = current_viewer()
    if viewer is None:
        st.warning("Please sign in.")
        st.stop()
    return viewer


@contextmanager
def db_session() -> Iterator[Session]:
    """A store session; a refusal or an unreachable store becomes a message, not a traceback."""
    try:
        with store.session() as session:
            yield session
    except AccessDenied as exc:
        st.error(f"Not allowed: {exc}")
        st.stop()
    except (DatabaseError, ConfigError) as exc:
        st.error(str(exc))
        st.stop()


def minutes(seconds: float | None) -> str:
    return "–" if seconds is None or seconds != seconds else f"{seconds / 60:.1f} min"


def no_data_hint() -> None:
    st.info(
        "No workload recorded yet. Connect a helpdesk (see the README, `ax sync`) or load the demo "
        "data with `ax demo`; the worker computes the numbers a few minutes after data arrives."
    )


FLASH_KEY = "ax_flash"
NOW_CHOICE = "Now"
LATER_CHOICE = "At the time below"


def flash(message: str, kind: str = "success") -> None:
    """Remember a message for the next run (an action's outcome survives ``st.rerun``)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """Show (once) the message of the last action, if any."""
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if message:
        getattr(st, kind, st.info)(message)


def local_time(moment: datetime, timezone: str, fmt: str = "%H:%M") -> str:
    """A stored (UTC) moment as the viewer reads it, in their timezone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt)


def start_inputs(key: str, timezone: str) -> tuple[str, date, dt_time]:
    """Inside a form: "now" or a later local day and time. Pass the answer to :func:`chosen_start`."""
    soon = datetime.now(ZoneInfo(timezone)) + timedelta(minutes=15)
    soon -= timedelta(minutes=soon.minute % 5, seconds=soon.second, microseconds=soon.microsecond)
    choice = st.radio("When", [NOW_CHOICE, LATER_CHOICE], horizontal=True, key=f"{key}_when")
    left, right = st.columns(2)
    day = left.date_input("Day", value=soon.date(), key=f"{key}_day")
    at = right.time_input(f"Time ({timezone})", value=soon.time(), step=300, key=f"{key}_time")
    return choice, day, at


def chosen_start(choice: str, day: date, at: dt_time, timezone: str) -> datetime | None:
    """The start picked with :func:`start_inputs` as an aware datetime; None means now."""
    if choice == NOW_CHOICE:
        return None
    return datetime.combine(day, at, ZoneInfo(timezone))


def time_span(start: datetime, end: datetime, timezone: str, now: datetime) -> str:
    """ "14:30–14:40" in the viewer's timezone, with the day in front when it is not today."""
    same_day = local_time(start, timezone, "%Y-%m-%d") == local_time(now, timezone, "%Y-%m-%d")
    day = "" if same_day else local_time(start, timezone, "%a %d %b ")
    return f"{day}{local_time(start, timezone)}–{local_time(end, timezone)}"
