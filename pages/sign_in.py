"""Sign-in page: local accounts; the demo accounts are listed while demo data is loaded."""

from __future__ import annotations

import streamlit as st

from ax.accounts import SignInError, list_demo_accounts, sign_in
from pages.common import db_session, remember


def _submit() -> None:
    """Runs before the next script run, so the navigation is built for the signed-in role."""
    with db_session() as session:
        try:
            remember(sign_in(session, st.session_state["username"], st.session_state["password"]))
        except SignInError as exc:
            st.session_state["ax_sign_in_error"] = str(exc)


st.title("AX · agent experience")
st.caption("Workload and wellbeing for customer-service teams, with the agent first.")

notice = st.session_state.pop("ax_notice", None)
if notice:
    st.info(notice)

with st.form("sign_in"):
    st.text_input("User name", key="username")
    st.text_input("Password", type="password", key="password")
    st.form_submit_button("Sign in", on_click=_submit)

error = st.session_state.pop("ax_sign_in_error", None)
if error:
    st.error(error)

with db_session() as session:
    demo_accounts = list_demo_accounts(session)
if demo_accounts:
    st.divider()
    st.subheader("Demo accounts")
    st.caption(
        "Demo data is loaded. Each account shows what one role sees; the password is `demo` "
        "unless AX_DEMO_PASSWORD says otherwise."
    )
    st.table([{"user name": u.username, "role": u.role, "who": u.display_name} for u in demo_accounts])
