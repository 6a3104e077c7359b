"""Compare jobs (`?jobs=a,b,c`): their curves overlaid (per epoch from the logs, per step from the jobs' own
recordings), hyperparameters and final metrics side by side, as MLflow's compare view shows runs. Opened
from the Train page's job list with two or more rows selected."""

import pandas as pd
import streamlit as st

from app.auth import operators_only
from app.settings import current_settings
from app.training.job_charts import compare_charts
from app.training.recording_compare import step_loss_chart
from app.widgets.jobs import duration, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.training.debugging import DebuggingService
from services.training.sagemaker_training import TrainingService

operators_only("Compare jobs")

service = TrainingService(settings=current_settings())

st.title("Compare training jobs")
st.page_link("app_pages/train.py", label="All training jobs", icon=":material/arrow_back:")
names = [name.strip() for name in (st.query_params.get("jobs") or "").split(",") if name.strip()]
if len(names) < 2:
    st.info("Select two or more jobs in the list on the Train page and press Compare.")
    st.stop()
try:
    comparison = service.compare(names)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
for error in comparison.errors:
    st.warning(error)
if len(comparison.jobs) < 2:
    st.stop()

charts = compare_charts(comparison.series)
if charts:
    st.caption("One colour per job; solid lines train, dashed lines validation.")
    for column, (_title, chart) in zip(st.columns(len(charts)), charts, strict=True):
        column.plotly_chart(chart)
else:
    st.caption("None of these jobs has logged an epoch yet.")

recordings, unrecorded = DebuggingService(settings=current_settings()).recordings_of(
    [job.name for job in comparison.jobs]
)
step_chart = step_loss_chart(recordings)
if step_chart is not None:
    st.markdown("**Loss per step (recorded)**")
    st.plotly_chart(step_chart, key="compare_step_loss")
for note in unrecorded:
    st.caption(note)


def side_by_side(rows: dict[str, dict[str, object]]) -> pd.DataFrame:
    """One row per name, one column per job; rows whose values differ between jobs come first."""
    frame = pd.DataFrame(rows).T.reindex(columns=[job.name for job in comparison.jobs])
    differs = frame.astype(str).nunique(axis=1) > 1
    return frame.loc[differs.sort_values(ascending=False, kind="stable").index]


def cell(value: object, *, metric: bool = False) -> str:
    """Metrics to 4 decimals (as the job page shows them); hyperparameters as they were given."""
    if value is None:
        return ""
    return f"{value:.4f}" if metric and isinstance(value, float) else str(value)


jobs = comparison.jobs
st.markdown("#### Run")
now = pd.Timestamp.now(tz="UTC").to_pydatetime()
st.dataframe(
    pd.DataFrame(
        {
            job.name: {
                "status": job.status,
                "instances": f"{job.instance_count} × {job.instance_type}",
                "duration": duration(job.duration_s(now)),
                "cost": usd(job.notional_cost(now)),
            }
            for job in jobs
        }
    ),
    width="stretch",
)
st.caption(COST_NOTE)
st.markdown("#### Hyperparameters")
keys = sorted({key for job in jobs for key in job.hyperparameters})
st.dataframe(
    side_by_side({key: {job.name: cell(job.hyperparameters.get(key)) for job in jobs} for key in keys}),
    width="stretch",
)
st.markdown("#### Final metrics")
metrics = sorted({metric for job in jobs for metric in job.final_metrics})
st.dataframe(
    side_by_side({m: {job.name: cell(job.final_metrics.get(m), metric=True) for job in jobs} for m in metrics}),
    width="stretch",
)
for job in jobs:
    st.page_link("app_pages/job.py", label=f"Open {job.name}", query_params={"job": job.name})
