"""AX dashboard entry point: sign-in, then role-based navigation over ``pages/``.

Run with ``ax serve`` (or ``make run``). No scheduler is started here: Streamlit reruns this
script for every interaction; background work belongs to ``ax worker``.
"""

from __future__ import annotations

import streamlit as st

from pages.common import current_viewer, sign_out
from pages.sidebar import notifications

st.set_page_config(page_title="AX · agent experience", page_icon="🎧", layout="wide")

# url_paths differ from the file names on purpose: Streamlit's test runner also knows pages/ files by
# name, and a clash would run a file directly instead of through this navigation.
PAGES = {
    "agent": [
        st.Page("pages/my_workload.py", title="My workload", icon="📈", url_path="workload", default=True),
        st.Page("pages/survey.py", title="Check-in", icon="📝", url_path="checkin"),
        st.Page("pages/my_breaks.py", title="My breaks", icon="☕", url_path="my-breaks"),
        st.Page("pages/lead_view.py", title="What my lead sees", icon="👁️", url_path="what-my-lead-sees"),
        st.Page("pages/team_actions.py", title="You said, we did", icon="🤝", url_path="we-did"),
    ],
    "lead": [
        st.Page("pages/team_overview.py", title="Team overview", icon="👥", url_path="team", default=True),
        st.Page("pages/morale.py", title="Morale", icon="🌡️", url_path="morale"),
        st.Page("pages/actions.py", title="Actions", icon="✅", url_path="actions"),
        st.Page("pages/breaks_planner.py", title="Breaks", icon="☕", url_path="breaks"),
    ],
    "hr": [
        st.Page(
            "pages/org_summary.py",
            title="Organisation summary",
            icon="🏢",
            url_path="organisation",
            default=True,
        ),
        st.Page("pages/surveys_admin.py", title="Surveys", icon="📝", url_path="surveys"),
        st.Page("pages/exports.py", title="Exports", icon="📤", url_path="exports"),
        st.Page("pages/audit_log.py", title="Audit log", icon="🧾", url_path="audit"),
    ],
    "admin": [
        st.Page("pages/sync_health.py", title="Sync health", icon="🔄", url_path="sync", default=True),
        st.Page("pages/surveys_admin.py", title="Surveys", icon="📝", url_path="surveys"),
        st.Page("pages/exports.py", title="Exports", icon="📤", url_path="exports"),
        st.Page("pages/audit_log.py", title="Audit log", icon="🧾", url_path="audit"),
    ],
}

viewer = current_viewer()
if viewer is None:
    navigation = st.navigation(
        [st.Page("pages/sign_in.py", title="Sign in", icon="🔑", url_path="login", default=True)]
    )
else:
    with st.sidebar:
        st.markdown(f"**{viewer.display_name}**  \n{viewer.role.value} · times in {viewer.timezone}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
        notifications(viewer)
    navigation = st.navigation(PAGES[viewer.role.value])
navigation.run()
