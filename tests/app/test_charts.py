"""What the charts show (app/predict/prediction_charts.py, app/training/job_charts.py): the figures the pages
hand to `st.plotly_chart`."""

from datetime import UTC, datetime

from app.predict.prediction_charts import top_breeds_chart
from app.training.job_charts import compare_charts, metric_charts
from app.widgets.charts import LEGEND_ROW_PX, TOOLBAR_PX
from services.serving.prediction import BreedScore
from services.training.curves import MetricPoint, Series


def test_long_breed_names_are_not_cut_short_in_the_chart() -> None:
    figure = top_breeds_chart([BreedScore("Nova_scotia_duck_tolling_retriever", 0.6), BreedScore("pug", 0.004)])
    (bars,) = figure.data
    assert list(bars.y) == ["Nova Scotia Duck Tolling Retriever", "Pug"]  # whole, in the one display form
    assert figure.layout.yaxis.automargin  # the margin grows to the longest name instead of cutting it
    assert figure.layout.yaxis.autorange == "reversed"  # the best breed, given first, on top
    assert list(bars.text) == ["60%", "0.4%"]
    assert figure.layout.xaxis.title.text == "confidence" and figure.layout.xaxis.tickformat == ".0%"


def points(*values: float, timed: bool = True) -> list[MetricPoint]:
    when = datetime(2026, 5, 9, 7, 0, tzinfo=UTC) if timed else None
    return [MetricPoint(when, value) for value in values]


def test_one_job_train_solid_validation_dashed_and_only_charts_with_points() -> None:
    series: Series = {"train:loss": points(2.1, 1.4), "validation:loss": points(2.3, 1.9), "test:loss": points(1.8)}
    ((title, figure),) = metric_charts(series)  # no accuracy points: no accuracy chart
    assert title == "loss"
    assert [(t.name, list(t.x), list(t.y), t.line.dash) for t in figure.data] == [
        ("train:loss", [1, 2], [2.1, 1.4], "solid"),
        ("validation:loss", [1, 2], [2.3, 1.9], "dash"),
    ]
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == ("epoch", "loss")
    assert "2026-05-09 07:00:00 UTC" in figure.data[0].customdata
    # the legend sits above the plot, below a band left free for the toolbars shown there on hover
    assert (figure.layout.legend.y, figure.layout.legend.yanchor) == (1.02, "bottom")
    assert figure.layout.margin.t >= TOOLBAR_PX + 2 * LEGEND_ROW_PX


def test_a_console_s_curves_have_no_times_to_show() -> None:
    ((_, figure),) = metric_charts({"train:accuracy": points(0.2, 0.5, timed=False)})
    assert "customdata" not in figure.data[0].hovertemplate


def test_compare_overlays_a_trace_per_job_and_series_one_colour_per_job() -> None:
    runs = {
        "job-a": {name: points(1.0, 0.5) for name in ("train:loss", "validation:loss", "train:accuracy")},
        "job-b": {"train:loss": points(2.0), "validation:loss": points(1.5)},
    }
    charts = dict(compare_charts(runs))
    assert list(charts) == ["loss", "accuracy"]
    loss = charts["loss"].data
    assert [t.name for t in loss] == ["job-a · train", "job-a · validation", "job-b · train", "job-b · validation"]
    assert [t.line.dash for t in loss] == ["solid", "dash", "solid", "dash"]
    colours = [t.line.color for t in loss]
    assert colours[0] == colours[1] != colours[2] == colours[3]
    (accuracy,) = charts["accuracy"].data
    assert (accuracy.name, accuracy.line.color) == ("job-a · train", colours[0])  # a job keeps its colour
