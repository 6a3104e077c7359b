"""Which page this session is on, so a page can tell a fresh visit from a rerun of itself (a list starts
again from its first page when the visitor comes back to it)."""

import streamlit as st

_CURRENT, _PREVIOUS = "nav_current_page", "nav_previous_page"


def record_page(url_path: str) -> None:
    """Called by the entry script on every full run, with the page about to run."""
    st.session_state[_PREVIOUS] = st.session_state.get(_CURRENT)
    st.session_state[_CURRENT] = url_path


def arrived(url_path: str) -> bool:
    """True on the run that brought the visitor to `url_path` from another page (or opened the session)."""
    return st.session_state.get(_PREVIOUS) != url_path
