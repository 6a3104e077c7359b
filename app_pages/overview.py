"""Overview (home): which cloud the dashboard talks to, as whom, what is running and costing money now, and
what is deployed there."""

import pandas as pd
import streamlit as st

from app.auth import visitor
from app.settings import current_settings
from app.widgets.formatting import per_hour, timestamp
from services.core.errors import ServiceError
from services.core.pricing import EC2_PRICE_SOURCE, HOSTING_PRICE_SOURCE, LAMBDA_PRICE_SOURCE, PRICE_SOURCE
from services.monitoring.drift_alarm import DriftAlarmService
from services.overview.activity import Charge, endpoint_charges, hourly_total, running_work
from services.overview.connection import get_overview

settings = current_settings()
OPERATOR = visitor().is_operator  # viewers get no links to the operators' pages

st.title("Dog-breed classifier operations")
if st.button("Refresh", key="overview_refresh"):
    st.rerun()

with st.spinner("Reading the cloud…"):
    overview = get_overview(settings)
    activity = running_work(settings)

for message in dict.fromkeys([*overview.errors, *activity.errors]):  # an unreachable cloud says so once
    st.warning(message)
if OPERATOR and not overview.errors:  # the Monitor page's drift alarms, while they are in ALARM
    try:
        drifting = DriftAlarmService(settings).firing()
    except ServiceError as exc:
        drifting = []
        st.warning(exc.message)
    for alarm in drifting:
        st.error(f"Drift alarm: endpoint {alarm.endpoint}'s answers drift from its training set. {alarm.reason}")
        st.page_link(
            "app_pages/monitor.py", label=f"Monitor {alarm.endpoint}", query_params={"endpoint": alarm.endpoint}
        )

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


def link(charge: Charge) -> None:
    """One running, billed thing, linked to its page in this same session (query parameters, no new tab)."""
    size = f"{charge.count} × {charge.instance_type or 'unknown type'}"
    since = f"since {timestamp(charge.since)}" if charge.since else ""
    if charge.kind == "endpoint":
        page, query, label = "app_pages/predict.py", {"endpoint": charge.name}, f"Endpoint {charge.name}"
    elif charge.kind == "provisioned concurrency":
        page, query = "app_pages/lambda.py", {"function": charge.name.split(":")[0]}
        label, size = f"Provisioned concurrency {charge.name}", f"{charge.count} environment(s) kept warm"
    elif charge.kind == "training job":
        page, query, label = "app_pages/job.py", {"job": charge.name}, f"Training job {charge.name}"
    else:
        page, query = "app_pages/train.py", {"tab": "ec2", "instance": charge.name}
        label = f"EC2 machine {charge.name}" + (f" ({charge.job_name})" if charge.job_name else "")
    details = " · ".join(part for part in (charge.status, size, per_hour(charge.hourly_usd), since) if part)
    if page != "app_pages/predict.py" and not OPERATOR:  # a viewer has no link to operators' pages
        st.write(f"{label} · {details}")
        return
    st.page_link(page, label=f"{label} · {details}", query_params=query)


st.subheader("Running and costing money now")
charges = [
    *endpoint_charges(overview.endpoints or []),
    *(activity.jobs or []),
    *(activity.machines or []),
    *(activity.provisioned or []),
]
total, unpriced = hourly_total(charges)
st.metric(
    "By the hour now",
    per_hour(total),
    help=f"List prices: {HOSTING_PRICE_SOURCE}; {PRICE_SOURCE}; {EC2_PRICE_SOURCE}; {LAMBDA_PRICE_SOURCE}. "
    "Storage and requests are extra.",
)
if unpriced:
    st.caption(f"Plus {unpriced} with an instance type the dashboard has no price for.")
for charge in charges:
    link(charge)
if not charges:
    st.caption(
        "Nothing is billed by the hour right now: no endpoint instances, training jobs, EC2 machines or "
        "provisioned concurrency."
    )
if activity.jobs is None or activity.machines is None or activity.provisioned is None:
    st.caption(
        "Training jobs, EC2 machines or provisioned concurrency could not be listed (see above), so this may be "
        "incomplete."
    )

st.subheader("Endpoints")
if overview.endpoints:
    st.table(
        pd.DataFrame(
            [
                {
                    "name": e.name,
                    "status": e.status,
                    "instances": e.instance_count,
                    "type": e.instance_type or "",
                    "created": timestamp(e.created),
                }
                for e in overview.endpoints
            ]
        ).set_index("name")
    )
    for e in overview.endpoints if OPERATOR else []:  # what each serves and where it came from
        st.page_link(
            "app_pages/endpoints.py", label=f"{e.name}: model, job and dataset", query_params={"endpoint": e.name}
        )
else:
    st.caption("No endpoints." if overview.endpoints is not None else "Endpoints could not be listed (see above).")

st.subheader("Lambda functions")
if overview.functions:
    st.table(
        pd.DataFrame(
            [
                {
                    "name": f.name,
                    "runtime": f.runtime,
                    "memory (MB)": f.memory_mb,
                    "last modified": timestamp(f.last_modified),
                }
                for f in overview.functions
            ]
        ).set_index("name")
    )
    for f in overview.functions if OPERATOR else []:  # versions, concurrency, metrics, test
        st.page_link(
            "app_pages/lambda.py",
            label=f"{f.name}: versions, concurrency, metrics",
            query_params={"function": f.name},
        )
else:
    st.caption("No functions." if overview.functions is not None else "Functions could not be listed (see above).")
