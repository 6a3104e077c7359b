"""Dashboard sign-in and who the visitor is.

The rule, set by DASHBOARD_AUTH:
- `users` (the default): the local users file (services/security/users.py; `./dev users init` creates it and
  `./dev run` does on first use). Anonymous visitors are viewers; operators sign in in the sidebar.
- `oidc`: OpenID Connect through `st.login` (configure `[auth]` in .streamlit/secrets.toml); the role
  comes from the claim DASHBOARD_ROLE_CLAIM (default `groups`) holding DASHBOARD_OPERATOR_VALUE
  (default `operator`).
- `none`: no sign-in and every visitor is an operator: for development and the test suite only.
DASHBOARD_REQUIRE_SIGNIN=1 turns anonymous visitors away instead of treating them as viewers.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import streamlit as st

from app.navigation import navigated
from services.core.access import Caller, RateLimiter, role_from_claims
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.viewer import configured_viewer_role
from services.security.users import UserStore, users_path

_CALLER = "dashboard_caller"
_LIMITER = "predict_rate_limiter"
ANONYMOUS_PREDICTIONS = 10  # at once, then one more every 6 s, per session
ANONYMOUS_REFILL_S = 6.0


def mode() -> str:
    """`users`, `oidc` or `none` (see the module docstring)."""
    value = os.environ.get("DASHBOARD_AUTH", "users").strip().lower()
    return value if value in {"users", "oidc", "none"} else "users"


def sign_in_required() -> bool:
    return os.environ.get("DASHBOARD_REQUIRE_SIGNIN", "").strip().lower() in {"1", "true", "yes"}


@st.cache_resource(show_spinner=False)
def _store(path: str) -> UserStore:
    """One store per file for every session, so wrong passwords count across sessions and tabs."""
    return UserStore(Path(path))


def visitor() -> Caller:
    """Who is looking: signed in, or anonymous (a viewer; an operator only when sign-in is off)."""
    if mode() == "none":
        return Caller(None, "operator")
    if mode() == "oidc" and st.user.is_logged_in:
        claims = st.user.to_dict()
        claim = os.environ.get("DASHBOARD_ROLE_CLAIM", "groups")
        operator_value = os.environ.get("DASHBOARD_OPERATOR_VALUE", "operator")
        name = str(claims.get("email") or claims.get("name") or claims.get("sub"))
        return Caller(name, role_from_claims(claims, claim, [operator_value]))
    return st.session_state.get(_CALLER) or Caller(None, "viewer")


def operators_only(title: str) -> Caller:
    """The first statement of every operator page: a viewer or guest gets a refusal and the page stops, before
    it reads anything; an operator is returned. The page guards itself because Streamlit may run a file of
    pages/ by its URL on a just-started server, before any session has drawn the navigation that leaves it out."""
    caller = visitor()
    if not caller.is_operator:
        if not navigated():  # run straight from its URL: the entry script has not drawn the sidebar's account part
            with st.sidebar:
                st.subheader("Account")
                sign_in_panel(caller)
        st.title(title)
        st.error(f"The {title} page is for operators. Sign in as an operator in the sidebar to open it.")
        st.stop()
    return caller


def settings_for(caller: Caller, base: CloudSettings) -> CloudSettings:
    """An operator signs with the dashboard's credentials; a viewer with the viewer role's."""
    return base if caller.is_operator else replace(base, viewer_role=configured_viewer_role())


def sign_in_panel(caller: Caller) -> None:
    """The sidebar's account part: who is signed in and sign out, or the way to sign in."""
    if mode() == "none":
        st.caption("Sign-in is off (DASHBOARD_AUTH=none): every visitor is an operator.")
        return
    if caller.name is not None:
        st.caption(f"Signed in as **{caller.name}** ({caller.role})")
        if st.button("Sign out", key="auth_sign_out"):
            if mode() == "oidc":
                st.logout()
            st.session_state.pop(_CALLER, None)
            st.rerun()
        return
    st.caption("Viewing as a guest: Overview and Predict.")
    if mode() == "oidc":
        if st.button("Sign in", key="auth_oidc"):
            st.login()
        return
    sign_in_form()


def sign_in_form() -> None:
    """Name and password against the local users file."""
    store = _store(str(users_path()))
    if not store.exists():
        st.caption("No users file yet: `./dev users init` creates the first operator.")
        return
    name = st.text_input("User name", key="auth_name")
    password = st.text_input("Password", type="password", key="auth_password")
    if st.button("Sign in", key="auth_submit"):
        try:
            st.session_state[_CALLER] = store.sign_in(name.strip(), password)
        except ServiceError as exc:
            st.error(exc.message)
            return
        st.rerun()


def prediction_wait(caller: Caller) -> float:
    """0 when this visitor may classify one more photo now; else the seconds to wait (anonymous only)."""
    if caller.name is not None or caller.is_operator:
        return 0.0
    limiter = st.session_state.setdefault(_LIMITER, RateLimiter(ANONYMOUS_PREDICTIONS, ANONYMOUS_REFILL_S))
    return limiter.take()
