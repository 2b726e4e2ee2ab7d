"""Sign-in page: single sign-on when an identity provider is configured, local accounts unless
turned off (AX_PASSWORD_SIGN_IN=false); the demo accounts are listed while demo data is loaded.

Streamlit runs the OIDC flow (``st.login``) and keeps the identity in a cookie (``st.user``);
ax/oidc.py decides the AX role. A session that was signed in that way and has lost its viewer
(Sign out, or the session expired) also drops the identity cookie, or it would sign straight in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAuthError

from ax import oidc
from ax.accounts import SignInError, list_demo_accounts, sign_in
from ax.settings import get_settings
from pages import return_to
from pages.common import db_session, remember

SSO_KEY = "ax_signed_in_by_sso"


def _submit() -> None:
    """Runs before the next script run, so the navigation is built for the signed-in role."""
    with db_session() as session:
        try:
            remember(sign_in(session, st.session_state["username"], st.session_state["password"]))
        except SignInError as exc:
            st.session_state["ax_sign_in_error"] = str(exc)


def _auth_section() -> Mapping[str, Any] | None:
    """``[auth]`` of .streamlit/secrets.toml, or None when there is no such file or section."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:
        return None
    return section if isinstance(section, Mapping) else None


def _identity() -> dict[str, Any]:
    """The claims of the person signed in at the identity provider (``is_logged_in`` among them)."""
    return dict(st.user.to_dict())


def _sso_sign_in(identity: Mapping[str, Any]) -> None:
    """Map the IdP identity to a viewer and start the session, or show why there is no access."""
    refusal = None
    with db_session() as session:
        try:
            viewer = oidc.sign_in_with_claims(session, identity)
        except oidc.NoAccess as exc:
            refusal = str(exc)
    if refusal is not None:
        _no_access(refusal)
        st.stop()
    remember(viewer)
    st.session_state[SSO_KEY] = True
    return_to.after_single_sign_on()
    st.rerun()


def _no_access(message: str) -> None:
    st.title("No access to AX")
    st.error(message)
    st.caption(
        "An administrator can give you a role with `ax users add`, or by adding you to an AX group "
        "at your identity provider. Sign out to use another account."
    )
    if st.button("Sign out", key="sso_sign_out"):
        st.logout()


settings = get_settings()
identity = _identity()
if identity.get("is_logged_in"):
    if st.session_state.pop(SSO_KEY, False):
        st.logout()  # the SSO session ended here (Sign out or expiry): end the identity cookie too
        st.stop()
    _sso_sign_in(identity)

st.title("AX · agent experience")
st.caption("Workload and wellbeing for customer-service teams, with the agent first.")

notice = st.session_state.pop("ax_notice", None)
if notice:
    st.info(notice)

providers = oidc.configured_providers(_auth_section(), settings)
if providers:
    return_to.keep_address()  # single sign-on comes back to the root: keep the page this link opened
for provider in providers:
    if st.button(f"Sign in with {provider.label}", key=f"sso_{provider.name or 'default'}", type="primary"):
        try:
            st.login(provider.name)
        except StreamlitAuthError as exc:
            st.error(f"Single sign-on is not set up correctly: {exc}")

if settings.password_sign_in:
    if providers:
        st.caption("Or with a local account:")
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
elif not providers:
    st.error(
        "Password sign-in is turned off (AX_PASSWORD_SIGN_IN=false) and no identity provider is set up "
        "([auth] in .streamlit/secrets.toml). Ask an administrator."
    )
