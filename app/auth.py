"""Dashboard sign-in and who the visitor is.

The rule, set by DASHBOARD_AUTH:
- `users` (the default): the local users file (services/security/users.py; `./dev users init` creates it and
  `./dev run` does on first use). Anonymous visitors are viewers; operators sign in in the sidebar, and a
  signed, expiring cookie (services/security/sessions.py) keeps them signed in across reloads and tabs.
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

from services.core.access import Caller, RateLimiter, role_from_claims
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.viewer import configured_viewer_role
from services.security.sessions import COOKIE, LIFETIME_S, SessionTokens
from services.security.users import UserStore, users_path

_CALLER = "dashboard_caller"
_COOKIE_READ = "auth_cookie_read"  # the sign-in cookie was looked at once in this session
_COOKIE_CHANGE = "auth_cookie_change"  # the cookie to set (a token) or clear (""), written on the next run
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


def _tokens() -> SessionTokens:
    return SessionTokens(_store(str(users_path())))


def _from_cookie() -> Caller | None:
    """The operator a reload or a new tab brings back: the sign-in cookie, honoured once per session (its
    value stays what the session's first request sent, also after signing out)."""
    if st.session_state.get(_COOKIE_READ):
        return None
    st.session_state[_COOKIE_READ] = True
    token = st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token:  # none sent (AppTest's stand-in session sends no real cookies)
        return None
    try:
        caller = _tokens().verify(token)
    except ServiceError:  # a misconfigured secret: the visitor signs in again, and that says why
        return None
    if caller is not None:
        st.session_state[_CALLER] = caller
    return caller


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
    signed_in = st.session_state.get(_CALLER) or (_from_cookie() if mode() == "users" else None)
    return signed_in or Caller(None, "viewer")


def operators_only(title: str) -> Caller:
    """The first statement of every operator page: a viewer or guest gets a refusal and the page stops, before
    it reads anything; an operator is returned. A viewer's navigation lists operator pages hidden, so their URLs
    still run them: the page guards itself."""
    caller = visitor()
    if not caller.is_operator:
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
    _write_cookie()
    if caller.name is not None:
        st.caption(f"Signed in as **{caller.name}** ({caller.role})")
        if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
            if mode() == "oidc":
                st.logout()
            else:
                _tokens().end(caller.name)  # a copy of the cookie is refused too
                st.session_state[_COOKIE_CHANGE] = ""
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
    """Name and password against the local users file. A form, so the values typed are the values sent: a
    text input outside a form commits only on Enter or when it loses focus, and Tab onto the password's eye
    button left the password uncommitted, so a right password read as wrong."""
    store = _store(str(users_path()))
    if not store.exists():
        st.caption("No users file yet: `./dev users init` creates the first operator.")
        return
    with st.form("auth_form", border=False):
        name = st.text_input("User name", key="auth_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="auth_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", key="auth_submit", icon=":material/login:")
    if submitted:
        try:
            caller = store.sign_in(name.strip(), password)
            st.session_state[_COOKIE_CHANGE] = _tokens().issue(caller)
        except ServiceError as exc:
            st.error(exc.message)
            return
        st.session_state[_CALLER] = caller
        st.rerun()


def _write_cookie() -> None:
    """Set or clear the sign-in cookie in the browser, once, on the run after signing in or out. Streamlit
    answers over its websocket, with no HTTP response to set a cookie on, so the page's script writes it (and
    it cannot be HttpOnly): it holds the signed token alone, and signing out refuses every copy of it."""
    change = st.session_state.pop(_COOKIE_CHANGE, None)
    if change is None:
        return
    max_age = int(LIFETIME_S) if change else 0
    st.html(
        f"<script>document.cookie = '{COOKIE}={change}; Path=/; Max-Age={max_age}; SameSite=Strict'"
        " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )


def prediction_wait(caller: Caller) -> float:
    """0 when this visitor may classify one more photo now; else the seconds to wait (anonymous only)."""
    if caller.name is not None or caller.is_operator:
        return 0.0
    limiter = st.session_state.setdefault(_LIMITER, RateLimiter(ANONYMOUS_PREDICTIONS, ANONYMOUS_REFILL_S))
    return limiter.take()
