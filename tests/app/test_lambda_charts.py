"""What the Lambda metric charts show (app/functions/lambda_charts.py): a chart per view that has data, in order."""

from datetime import UTC, datetime, timedelta

from app.functions.lambda_charts import metric_charts
from services.functions.invocation_metrics import SPECS, ColdStart, FunctionMetrics, Series

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def metrics(values: dict[str, list[float]], cold: int = 0) -> FunctionMetrics:
    series = {
        s.key: Series(
            s.key,
            s.label,
            s.unit,
            [T0 + timedelta(minutes=i) for i in range(len(values.get(s.key, [])))],
            values.get(s.key, []),
        )
        for s in SPECS
    }
    starts = [ColdStart(T0, 150.0 + i) for i in range(cold)]
    return FunctionMetrics("f", None, T0, T0 + timedelta(hours=1), 60, series, starts)


def test_no_calls_no_charts():
    assert metric_charts(metrics({})) == []


def test_each_view_with_data_gets_its_chart():
    charts = metric_charts(
        metrics(
            {
                "invocations": [3, 4],
                "throttles": [0, 9],
                "concurrent": [2, 3],
                "duration_p50": [10, 11],
                "duration_p99": [40, 45],
                "provisioned_utilization": [0.5, 1.0],
                "provisioned_invocations": [2, 3],
            },
            cold=2,
        )
    )
    assert [title for title, _ in charts] == ["Calls", "Concurrency", "Duration", "Cold starts", "Provisioned"]
    calls = charts[0][1]
    assert [t.name for t in calls.data] == ["Invocations", "Throttles"]  # no errors in the window: no errors bars
    assert list(calls.data[1].y) == [0, 9]
    assert charts[3][1].layout.title.text == "Cold starts: 2"
    provisioned = charts[4][1]
    utilisation = next(t for t in provisioned.data if t.name == "Provisioned utilisation")
    assert utilisation.yaxis == "y2" and provisioned.layout.yaxis2.tickformat == ".0%"
