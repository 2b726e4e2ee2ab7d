"""Single sign-on back to the page a link opened.

A signed-out link to a page (a check-in reminder's ``/checkin``) shows the sign-in form at that
address. Password sign-in stays there and opens the page. Single sign-on cannot: Streamlit's
OIDC callback always lands on the app's root, and a new session holds nothing of the old one.
The browser keeps one thing across the round trip, its cookies. So the sign-in form, when it is
shown at a page's address, leaves that address in a short-lived cookie (set from a component's
frame, which shares the app's origin: Streamlit has no server-side way to set one). The first run
after single sign-on reads it, opens the page if the role has it, and has the cookie cleared.
"""

from __future__ import annotations

import json
import re

import streamlit as st
import streamlit.components.v1 as components
from streamlit.navigation.page import StreamlitPage

COOKIE = "ax_return_to"
LIFETIME_SECONDS = 600  # long enough to sign in at the identity provider, short enough to be forgotten
SIGN_IN_ADDRESS = "login"  # the sign-in form's own address: nothing to return to
_ADDRESS = re.compile(r"[a-z0-9-]{1,40}")  # a page's url_path, nothing that could carry markup
_SHOWN_AT = "ax_sign_in_shown_at"
_PENDING = "ax_return_to_page"
_CLEAR = "ax_clear_return_to"


def _set_cookie(value: str, max_age: int) -> None:
    cookie = f"{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Lax"
    components.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", height=0)


def shown_at(address: str) -> None:
    """Signed out: the address the sign-in form is about to be shown at (the dashboard knows it)."""
    st.session_state[_SHOWN_AT] = address


def keep_address() -> None:
    """On the sign-in form, when single sign-on is offered: remember the page it is shown at, or,
    shown at its own address, forget an earlier one (that link was not followed)."""
    address = st.session_state.get(_SHOWN_AT)
    if address and address != SIGN_IN_ADDRESS and _ADDRESS.fullmatch(address):
        _set_cookie(address, LIFETIME_SECONDS)
    else:
        _set_cookie("", 0)


def after_single_sign_on() -> None:
    """Right after single sign-on: note the page the browser asked for before leaving, if any."""
    address = st.context.cookies.get(COOKIE)
    if isinstance(address, str) and _ADDRESS.fullmatch(address):
        st.session_state[_PENDING] = address


def follow(pages: list[StreamlitPage]) -> None:
    """Signed in: open the page noted by :func:`after_single_sign_on` if it is among ``pages``
    (the role's own), and clear the cookie on the run after, once the browser shows a page."""
    if st.session_state.pop(_CLEAR, False):
        with st.sidebar:
            _set_cookie("", 0)
    address = st.session_state.pop(_PENDING, None)
    if address is None:
        return
    st.session_state[_CLEAR] = True
    page = next((p for p in pages if p.url_path == address), None)
    if page is not None:
        st.switch_page(page)
