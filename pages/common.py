"""Small helpers shared by the pages: the signed-in viewer, the store session, formatting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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
