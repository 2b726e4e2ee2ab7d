"""The sidebar every signed-in viewer sees: who they are, their unread notifications, sign out."""

from __future__ import annotations

import streamlit as st

from ax.access import Viewer
from ax.notifications import mark_read, my_notifications
from pages.common import db_session


def notifications(viewer: Viewer) -> None:
    """Unread reminders for this viewer only; dismissing one marks it read."""
    with db_session() as session:
        notes = my_notifications(session, viewer)
    dismissed = None
    for note in notes:
        st.info(note.text)
        if st.button("Dismiss", key=f"note_{note.id}"):
            dismissed = note.id
    if dismissed is not None:
        # mark_read commits itself; rerun outside the session block, or the rerun rolls it back
        with db_session() as session:
            mark_read(session, viewer, dismissed)
        st.rerun()
