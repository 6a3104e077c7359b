"""The sidebar's cloud settings: endpoint URL, profile and region, defaulting from the environment, which only
an operator may change; a viewer's settings also name the viewer role its calls sign as."""

import streamlit as st

from app.auth import settings_for
from services.core.access import Caller
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.security.identity import caller_arn, signing_credentials

_STATE_KEY = "cloud_settings"


def sidebar_settings(caller: Caller) -> CloudSettings:
    """Draw the settings in the sidebar and remember the result, as `caller` may use it, for the pages of this
    session. Only an operator changes where the dashboard points: the dashboard's server signs the requests,
    so a guest or viewer who could edit the endpoint URL could make it send signed requests anywhere."""
    defaults = CloudSettings.from_env()
    with st.sidebar:
        st.subheader("Cloud")
        if caller.is_operator:
            settings = _chosen_settings(defaults)
        else:
            settings = defaults
            st.caption(f"Region {defaults.region}. Only operators change where the dashboard points.")
        settings = settings_for(caller, settings)
        _identity_caption(settings)
    st.session_state[_STATE_KEY] = settings
    return settings


def _chosen_settings(defaults: CloudSettings) -> CloudSettings:
    """The operator's inputs: endpoint URL, profile and region, defaulting from the environment."""
    endpoint_url = st.text_input(
        "Endpoint URL",
        value=defaults.endpoint_url or "",
        key="settings_endpoint_url",
        help="localcloud runs on http://127.0.0.1:4566. Leave empty to talk to AWS.",
    )
    profile = st.text_input(
        "AWS profile", value=defaults.profile or "", key="settings_profile", help="Empty: default credentials."
    )
    region = st.text_input("Region", value=defaults.region, key="settings_region")
    try:
        return CloudSettings(
            endpoint_url=endpoint_url.strip() or None, region=region.strip(), profile=profile.strip() or None
        )
    except ServiceError as exc:
        st.error(f"{exc.message} Using the environment's settings until this is fixed.")
        return defaults


@st.cache_data(ttl=300, show_spinner=False)
def _cached_caller_arn(settings: CloudSettings, key_hint: str) -> str:
    """One STS call per settings and key every five minutes, not one per rerun; failures are not cached."""
    return caller_arn(settings)


def _identity_caption(settings: CloudSettings) -> None:
    """Which key the dashboard signs with and whose it is; the secret never leaves boto3."""
    credentials = signing_credentials(settings)
    if credentials.key_hint is None:
        st.caption(credentials.description)
        return
    try:
        who = _cached_caller_arn(settings, credentials.key_hint)
    except ServiceError as exc:
        who = f"identity unknown: {exc.message}"
    st.caption(f"Signing as {who}  \n{credentials.description}")


def current_settings() -> CloudSettings:
    """The settings chosen in the sidebar (the environment's when a page runs on its own, as in tests)."""
    return st.session_state.get(_STATE_KEY) or CloudSettings.from_env()
