"""Overview (home): which cloud the dashboard talks to, as whom, and what is deployed there."""

import pandas as pd
import streamlit as st

from app.settings import current_settings
from services.overview import get_overview

settings = current_settings()

st.title("Dog-breed classifier operations")
if st.button("Refresh", key="overview_refresh"):
    st.rerun()

with st.spinner("Reading the cloud…"):
    overview = get_overview(settings)

for message in overview.errors:
    st.warning(message)

cloud, account, region, health = st.columns(4)
cloud.metric("Cloud", overview.cloud)
account.metric("Account", overview.account or "unknown")
region.metric("Region", overview.region)
health.metric("localcloud health", overview.health or "n/a")
st.caption(f"Endpoint URL: {overview.endpoint_url or 'AWS default endpoints'}")
if overview.caller_arn:
    st.caption(f"Signed in as {overview.caller_arn}: {overview.credentials}")
else:
    st.caption(overview.credentials)

st.subheader("Endpoints")
if overview.endpoints:
    st.table(
        pd.DataFrame(
            [
                {"name": e.name, "status": e.status, "instances": e.instance_count, "created": e.created}
                for e in overview.endpoints
            ]
        ).set_index("name")
    )
else:
    st.caption("No endpoints." if overview.endpoints is not None else "Endpoints could not be listed (see above).")

st.subheader("Lambda functions")
if overview.functions:
    st.table(
        pd.DataFrame(
            [
                {"name": f.name, "runtime": f.runtime, "memory (MB)": f.memory_mb, "last modified": f.last_modified}
                for f in overview.functions
            ]
        ).set_index("name")
    )
else:
    st.caption("No functions." if overview.functions is not None else "Functions could not be listed (see above).")
