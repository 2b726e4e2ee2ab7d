"""AX dashboard entry point: sign-in, then role-based navigation over ``pages/``.

Run with ``ax serve`` (or ``make run``). No scheduler is started here: Streamlit reruns this
script for every interaction; background work belongs to ``ax worker``.
"""

from __future__ import annotations

import streamlit as st

from ax.notify import CHECKIN_PAGE
from pages import return_to
from pages.common import current_viewer, sign_out
from pages.sidebar import notifications

st.set_page_config(page_title="AX · agent experience", page_icon="🎧", layout="wide")


def page(file: str, title: str, icon: str, url_path: str, *, default: bool = False) -> st.Page:
    """A navigation entry. Material icons ship with Streamlit, so they render without emoji fonts.

    url_paths differ from the file names on purpose: Streamlit's test runner also knows pages/ files
    by name, and a clash would run a file directly instead of through this navigation.
    """
    icon = f":material/{icon}:"
    return st.Page(f"pages/{file}", title=title, icon=icon, url_path=url_path, default=default)


def records_pages() -> list[st.Page]:
    """What HR and admins share: survey set-up, exports and the audit log."""
    return [
        page("surveys_admin.py", "Surveys", "edit_note", "surveys"),
        page("exports.py", "Exports", "download", "exports"),
        page("audit_log.py", "Audit log", "receipt_long", "audit"),
    ]


PAGES = {
    "agent": [
        page("my_workload.py", "My workload", "monitoring", "workload", default=True),
        page("survey.py", "Check-in", "edit_note", CHECKIN_PAGE),
        page("my_breaks.py", "My breaks", "coffee", "my-breaks"),
        page("lead_view.py", "What my lead sees", "visibility", "what-my-lead-sees"),
        page("team_actions.py", "You said, we did", "handshake", "we-did"),
    ],
    "lead": [
        page("team_overview.py", "Team overview", "groups", "team", default=True),
        page("morale.py", "Morale", "mood", "morale"),
        page("actions.py", "Actions", "task_alt", "actions"),
        page("breaks_planner.py", "Breaks", "coffee", "breaks"),
    ],
    "hr": [
        page("org_summary.py", "Organisation summary", "corporate_fare", "organisation", default=True),
        *records_pages(),
    ],
    "admin": [page("sync_health.py", "Sync health", "sync", "sync", default=True), *records_pages()],
}


def sign_in_pages() -> list[st.Page]:
    """Signed out: the sign-in form, also at every page's address. A link to a page (a reminder's
    "answer it here", a bookmark) asks for sign-in and then opens that page, instead of "page not
    found" and the role's first page."""
    addresses = sorted({p.url_path for pages in PAGES.values() for p in pages} - {""})  # "": a default page
    return [
        page("sign_in.py", "Sign in", "login", return_to.SIGN_IN_ADDRESS, default=True),
        *(st.Page("pages/sign_in.py", title="Sign in", url_path=address) for address in addresses),
    ]


viewer = current_viewer()
if viewer is None:
    navigation = st.navigation(sign_in_pages(), position="hidden")
    return_to.shown_at(navigation.url_path)
else:
    with st.sidebar:
        st.markdown(f"**{viewer.display_name}**  \n{viewer.role.value} · times in {viewer.timezone}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
        notifications(viewer)
    navigation = st.navigation(PAGES[viewer.role.value])
    return_to.follow(PAGES[viewer.role.value])  # after single sign-on from a link to a page
navigation.run()
