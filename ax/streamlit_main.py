"""``streamlit`` as ``python -m ax.streamlit_main run dashboard.py …``: Streamlit's own command
line, with one thing settled before the first visitor arrives.

The dashboard routes with ``st.navigation``, and its page scripts live in ``pages/`` (the
project's layout). Streamlit takes a ``pages/`` folder next to the main script as the old
multipage mode until some session has called ``st.navigation``; so the very first session after
a start, if it opens a link to a page (a check-in reminder's ``/checkin``), is routed the old way
and shows "Page not found" (Streamlit issues 8860 and 9992). Saying up front that the app
navigates itself routes every session, the first one too, through the dashboard.
"""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
    main()
