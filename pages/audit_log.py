"""HR and admin page: the audit log (exports, individual-level views, refusals, account changes).

Read-only: the page offers no way to change or remove an entry, and neither does ``ax/``.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from ax.audit_view import audit_filters, browse_audit
from ax.workload import local_today
from pages.common import db_session, require_viewer

PAGE_SIZE = 50

viewer = require_viewer()
with db_session() as session:
    known = audit_filters(session, viewer)

st.title("Audit log")
st.caption(
    f"Who did what, and when: exports, views of one person's data, refusals, account and survey changes. "
    f"Times in {viewer.timezone}. Entries cannot be edited or removed."
)
left, middle, right = st.columns([2, 2, 3])
user = left.selectbox("User", [None, *known.users], format_func=lambda u: u or "Everyone", key="audit_user")
action = middle.selectbox(
    "Action", [None, *known.actions], format_func=lambda a: a or "All actions", key="audit_action"
)
today = local_today(viewer.timezone)
days = right.date_input("Dates", value=(), max_value=today, key="audit_dates", help="One day or a range")
since = days[0] if len(days) >= 1 else None
until = days[1] if len(days) == 2 else since
page = st.session_state.get("audit_page", 1)

try:
    with db_session() as session:
        result = browse_audit(
            session,
            viewer,
            user=user,
            action=action,
            since=since,
            until=until,
            page=page,
            page_size=PAGE_SIZE,
        )
except ValueError as exc:
    st.warning(str(exc))
    st.stop()

if not result.entries:
    st.info("No entries match these filters. Clear a filter or widen the dates.")
    st.stop()

table = pd.DataFrame(
    {
        "When": [e.at.strftime("%Y-%m-%d %H:%M:%S") for e in result.entries],
        "User": [e.user for e in result.entries],
        "Action": [e.action for e in result.entries],
        "What": [e.target or "" for e in result.entries],
        "Details": [json.dumps(e.details, sort_keys=True) if e.details else "" for e in result.entries],
    }
)
st.dataframe(table, hide_index=True, width="stretch")
first = (result.page - 1) * PAGE_SIZE + 1
last = first + len(result.entries) - 1
st.caption(f"Entries {first}–{last} of {result.total} · page {result.page} of {result.pages}")
back, _, forward = st.columns([1, 4, 1])
if back.button("← Newer", disabled=result.page <= 1, key="audit_newer"):
    st.session_state["audit_page"] = result.page - 1
    st.rerun()
if forward.button("Older →", disabled=result.page >= result.pages, key="audit_older"):
    st.session_state["audit_page"] = result.page + 1
    st.rerun()
