"""Keyed form widgets whose browser side can never fall back to the element's own default.

A widget's value lives in session state, but the browser also keeps a copy, and when it remounts an element
(a rerun interrupted by the next edit, a tab redrawn) it shows the element's *declared* default and sends
that back on the next rerun, silently replacing the value: a learning rate of 0.0, the first instance type.
Declaring the current value as the default (``value=current(key)``) closes that gap; with a key, the
widget's identity does not change with its default, so this costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st


def current(key: str) -> Any:
    """The value session state holds for a form widget's key (put there before the widget is drawn)."""
    return st.session_state[key]


def index_of(options: Sequence[Any], key: str) -> int:
    """The position of the key's current value among a selectbox's or radio's options (the first if unknown)."""
    value = st.session_state.get(key)
    return list(options).index(value) if value in options else 0
