"""The Endpoints page's parts: the fleet table, one endpoint's variants and lineage, and its live charts."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.endpoints.endpoint_charts import cpu_chart, errors_chart, latency_chart, traffic_chart
from app.widgets.formatting import timestamp
from app.widgets.jobs import usd
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.pricing import HOSTING_HOURLY_USD, HOSTING_PRICE_SOURCE
from services.evaluation.breed_names import display
from services.serving.endpoint_management import EndpointsService, EndpointView
from services.serving.endpoint_metrics import CloudTiming, EndpointMetricsService, query_period
from services.serving.lineage import LineageService

PAGE = "app_pages/endpoints.py"
COUNTS_REFRESH_S = 2


def timing_note(timing: CloudTiming) -> None:
    """Say so when localcloud runs with a shortened metric period: alarms and cooldowns run that much faster."""
    if timing.shortened:
        st.info(
            f"localcloud's metric period is {timing.period_s:g} s (started with `--metric-period-seconds`): "
            f"each of AWS's one-minute periods, alarm datapoints and cooldown minutes lasts {timing.period_s:g} s here."
        )
    if timing.oversubscribed and timing.cores is not None:
        held, machine = timing.cores
        st.warning(
            f"Oversubscribed: the endpoint instances want {held} cores and this machine has {machine}, so they "
            "share cores and another instance adds less than one would on AWS, where each brings its own vCPUs. "
            "localcloud gives an instance its type's vCPUs / `--vcpus-per-core` cores."
        )


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _capture_cell(endpoint: EndpointView) -> str:
    """What the endpoint captures, in a table cell: a percentage while it captures."""
    if endpoint.capture is None:
        return "off"
    return f"{endpoint.capture.sampling_percentage}%" if endpoint.capture.status == "Started" else "stopped"


def fleet_table(endpoints: list[EndpointView]) -> None:
    """One row per variant, and a link per endpoint to its detail view."""
    rows = [
        {
            "endpoint": e.name,
            "status": e.status,
            "variant": v.name,
            "model": v.model_name,
            "training job": v.training_job or "",
            "instance type": v.instance_type or "",
            "current": _count(v.current_instances),
            "desired": _count(v.desired_instances),
            "cost per hour": usd(v.hourly_usd),
            "data capture": _capture_cell(e),
        }
        for e in endpoints
        for v in e.variants
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"Cost per hour at the current instance count: {HOSTING_PRICE_SOURCE}; localcloud bills nothing.")
    for e in endpoints:
        st.page_link(PAGE, label=f"{e.name}: scaling, load test, charts", query_params={"endpoint": e.name})


def variants_and_lineage(settings: CloudSettings, endpoint: EndpointView) -> None:
    """The variants with their counts and cost (kept current), each model's training job and dataset, and the
    breeds."""
    if endpoint.failure_reason:
        st.error(endpoint.failure_reason)
    st.page_link(
        "app_pages/predict.py",
        label="Classify a photo with this endpoint",
        icon="🐕",
        query_params={"endpoint": endpoint.name},
    )
    st.page_link(
        "app_pages/evaluate.py",
        label="Evaluations of the model it serves",
        icon=":material/fact_check:",
        query_params={"endpoint": endpoint.name},
    )
    st.page_link(
        "app_pages/monitor.py",
        label="Monitor what it is sent and answers",
        icon=":material/monitoring:",
        query_params={"endpoint": endpoint.name},
    )
    instance_counts(settings, endpoint)
    try:
        lineage = LineageService(settings).endpoint(endpoint.name)
    except ServiceError as exc:
        st.error(exc.message)
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "variant": v.variant,
                    "training job": v.model.training_job or "not from a training job here",
                    "tuning job": v.model.tuning_job or "",
                    "dataset": v.model.dataset_uri or "",
                }
                for v in lineage.variants
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for variant in lineage.variants:
        origin = variant.model
        if origin.training_job:
            st.page_link(
                "app_pages/job.py",
                label=f"Training job {origin.training_job}",
                query_params={"job": origin.training_job},
            )
        if origin.dataset_uri:
            st.page_link(
                "app_pages/train.py",
                label=f"Train again on {origin.dataset_uri}",
                query_params={"tab": "launch", "dataset": origin.dataset_uri},
            )
        if origin.model_data_url:
            st.caption(f"Model artifact: `{origin.model_data_url}`")
    st.markdown("#### Breeds it names")
    st.write(f"It serves {lineage.breed_source}.")
    if lineage.breeds:
        with st.expander(f"All {len(lineage.breeds)}"):
            st.write(", ".join(display(label) for label in lineage.breeds))


def instance_counts(settings: CloudSettings, endpoint: EndpointView) -> None:
    """Status, instance counts and cost per hour, read again every 2 s: autoscaling (and a load test's
    scale-out) changes them while the page is open, and the load-test panel counts the same instances."""

    @st.fragment(run_every=f"{COUNTS_REFRESH_S}s")
    def counts() -> None:
        try:
            now = EndpointsService(settings).live_counts(endpoint.name)
        except ServiceError as exc:
            st.error(exc.message)
            return
        if now.config_name != endpoint.config_name and now.status == "InService":
            st.rerun()  # an update finished: the variants, models and lineage above changed too
        rows = []
        for v in endpoint.variants:
            current, desired = now.counts.get(v.name, (None, None))
            price = HOSTING_HOURLY_USD.get(v.instance_type or "")
            rows.append(
                {
                    "variant": v.name,
                    "model": v.model_name,
                    "instance type": v.instance_type or "",
                    "current": _count(current),
                    "desired": _count(desired),
                    "cost per hour": usd(None if price is None or current is None else price * current),
                }
            )
        current = [c for c, _ in now.counts.values() if c is not None]
        desired = [d for _, d in now.counts.values() if d is not None]
        st.metric(
            "Instances now",
            sum(current) if current else "n/a",
            help=f"CurrentInstanceCount, read every {COUNTS_REFRESH_S} s (the load test counts the same); "
            f"desired {sum(desired) if desired else 'n/a'}.",
        )
        st.caption(f"Status {now.status} · endpoint config `{now.config_name}` · as of {timestamp(datetime.now(UTC))}")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

    counts()


def live_charts(settings: CloudSettings, endpoint: str, variant: str, timing: CloudTiming) -> None:
    """CloudWatch's view of the variant, refreshed every metric period (at least every 2 s) while shown."""
    period = query_period(timing.period_s)
    window = min(300, max(30, 600 // period))  # half an hour of AWS's minutes; five minutes of 1 s periods
    live = st.toggle("Refresh the charts", value=True, key=f"charts_live_{endpoint}")

    @st.fragment(run_every=max(2.0, float(period)) if live else None)
    def charts() -> None:
        try:
            metrics = EndpointMetricsService(settings).variant_metrics(
                endpoint, variant, period_s=period, window_periods=window
            )
        except ServiceError as exc:
            st.error(exc.message)
            return
        if metrics.empty():
            st.caption("No metrics yet: CloudWatch has them once the endpoint has answered requests.")
        left, right = st.columns(2)
        left.markdown("Invocations")
        left.plotly_chart(traffic_chart(metrics), key=f"traffic_{endpoint}")
        right.markdown("Model and overhead latency, p50 and p99")
        right.plotly_chart(latency_chart(metrics), key=f"latency_{endpoint}")
        left.markdown("4xx and 5xx errors")
        left.plotly_chart(errors_chart(metrics), key=f"errors_{endpoint}")
        right.markdown("CPU per instance")
        if metrics.series["cpu"].values:
            right.plotly_chart(cpu_chart(metrics), key=f"cpu_{endpoint}")
        else:
            right.caption("No CPUUtilization datapoints in /aws/sagemaker/Endpoints for this variant.")

    charts()
