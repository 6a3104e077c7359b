"""A running job's progress (epoch i of n, elapsed, time left, cost so far), curves from console text, and
whether a stopped job left a model."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from classifier.training.progress import StepProgress
from services.core.pricing import estimate_cost
from services.training.curves import MetricPoint, progress, series_from_text
from services.training.job_records import parse_job
from services.training.job_spec import DEFAULT_METRIC_DEFINITIONS
from services.training.sagemaker_training import TrainingService
from tests.services.training.test_service_training import BUCKET, SETTINGS, described

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def epochs(*ends_s: float) -> dict[str, list[MetricPoint]]:
    """train:loss and validation:loss points for epochs ending `ends_s` seconds after START."""
    points = [MetricPoint(START + timedelta(seconds=s), 1.0) for s in ends_s]
    return {"train:loss": points, "validation:loss": list(points)}


def test_progress_counts_epochs_and_estimates_from_the_last_one() -> None:
    # The first epoch also cached features (100 s); the second took 20 s: three left take about 60 s.
    now = START + timedelta(seconds=125)
    result = progress(epochs(100, 120), epochs=5, started=START, now=now)
    assert (result.epoch, result.epochs, result.elapsed_s) == (2, 5, 125)
    assert result.eta_s == pytest.approx(3 * 20 - 5)


def test_progress_before_the_first_epoch_and_before_training() -> None:
    result = progress({}, epochs=3, started=START, now=START + timedelta(seconds=30))
    assert (result.epoch, result.eta_s, result.elapsed_s) == (0, None, 30)
    assert progress({}, epochs=3, started=None, now=START).elapsed_s == 0


def test_one_epoch_done_estimates_from_the_start_of_training() -> None:
    result = progress(epochs(40), epochs=3, started=START, now=START + timedelta(seconds=50))
    assert result.eta_s == pytest.approx(2 * 40 - 10)


def test_the_first_epoch_is_estimated_from_the_steps_it_told() -> None:
    """Before any metric line: 10 of 100 steps took 20 s (2 s a step), told 5 s ago; 90 steps left in this epoch
    and 100 in each of the 2 others."""
    told = (START + timedelta(seconds=25), StepProgress(10, 100, 20.0))
    result = progress({}, epochs=3, started=START, now=START + timedelta(seconds=30), first_steps=told)
    assert (result.epoch, result.elapsed_s) == (0, 30)
    assert result.eta_s == pytest.approx(90 * 2 - 5 + 2 * 100 * 2)
    later = progress(epochs(100), epochs=3, started=START, now=START + timedelta(seconds=110), first_steps=told)
    assert later.eta_s == pytest.approx(2 * 100 - 10)  # once an epoch ended, its length is the yardstick


def test_the_job_page_reads_the_newest_step_line_only_in_the_first_epoch(boto3_session) -> None:
    logs = boto3_session.client("logs")
    service = TrainingService(boto3_session, logs_client=logs, settings=SETTINGS)
    job = parse_job(described("InProgress"))  # 3 epochs, training since NOW + 2 s
    stream = "dog-breed-1/algo-1-1777777777"
    lines = [(12, "First epoch: 1 of 50 steps in 3.0 s"), (27, "First epoch: 8 of 50 steps in 18.0 s")]
    events = [
        {
            "logStreamName": stream,
            "timestamp": int((job.started + timedelta(seconds=at)).timestamp() * 1000),
            "message": text,
            "ingestionTime": 0,
            "eventId": str(at),
        }
        for at, text in lines
    ]
    expected = {
        "logGroupName": "/aws/sagemaker/TrainingJobs",
        "logStreamNamePrefix": "dog-breed-1/algo-1-",
        "filterPattern": '"First epoch:"',
    }
    with Stubber(logs) as stub:
        stub.add_response("filter_log_events", {"events": events}, expected)
        result = service.progress(job, {}, job.started + timedelta(seconds=30))
        # 18 s for 8 steps: 42 steps left less the 3 s since, then 2 more epochs of 50 steps.
        assert result.eta_s == pytest.approx(42 * 2.25 - 3 + 2 * 50 * 2.25)
        after_an_epoch = service.progress(job, epochs(100), START + timedelta(seconds=110))  # no log search
        assert after_an_epoch.epoch == 1
        stub.assert_no_pending_responses()


def test_a_running_jobs_notional_cost_grows_with_time_then_is_the_billed_one() -> None:
    running = parse_job(described("InProgress"))  # 2 × ml.m5.xlarge, training since START + 2 s
    assert running.notional_cost(START + timedelta(seconds=602)) == pytest.approx(estimate_cost("ml.m5.xlarge", 2, 600))
    ended = parse_job(described("Completed", BillableTimeInSeconds=300, TrainingEndTime=START))
    assert ended.notional_cost(START + timedelta(days=1)) == pytest.approx(estimate_cost("ml.m5.xlarge", 2, 300))


def test_console_text_gives_the_same_curves_without_times() -> None:
    console = "\n".join(
        [
            "running python train.py --epochs 2",
            "Epoch 1/2: train_loss=2.0000 train_acc=0.1000 valid_loss=1.9000 valid_acc=0.2000",
            "Epoch 2/2: train_loss=1.5000 train_acc=0.3000 valid_loss=1.6000 valid_acc=0.3500",
            "Testing Loss: 1.7000",
            "Testing Accuracy: 0.3300",
        ]
    )
    series = series_from_text(console, DEFAULT_METRIC_DEFINITIONS)
    assert {k: [p.value for p in v] for k, v in series.items()} == {
        "train:loss": [2.0, 1.5],
        "train:accuracy": [0.1, 0.3],
        "validation:loss": [1.9, 1.6],
        "validation:accuracy": [0.2, 0.35],
        "test:loss": [1.7],
        "test:accuracy": [0.33],
    }
    assert all(p.timestamp is None for points in series.values() for p in points)


@pytest.fixture
def stubbed_s3(boto3_session):
    sagemaker, s3 = boto3_session.client("sagemaker"), boto3_session.client("s3")
    stubs = Stubber(sagemaker), Stubber(s3)
    for stub in stubs:
        stub.activate()
    yield TrainingService(boto3_session, sagemaker_client=sagemaker, s3_client=s3, settings=SETTINGS), stubs
    for stub in stubs:
        stub.assert_no_pending_responses()
        stub.deactivate()


@pytest.mark.parametrize("saved", [True, False])
def test_a_stopped_job_says_whether_its_script_saved_a_model(stubbed_s3, saved: bool) -> None:
    service, (sagemaker, s3) = stubbed_s3
    sagemaker.add_response("describe_training_job", described("Stopped"), {"TrainingJobName": "dog-breed-1"})
    key = {"Bucket": BUCKET, "Key": "training-output/dog-breed-1/output/model.tar.gz"}
    if saved:
        s3.add_response("head_object", {"ContentLength": 17_000_000}, key)
    else:
        s3.add_client_error("head_object", service_error_code="404", http_status_code=404, expected_params=key)
    assert service.describe("dog-breed-1").model_saved is saved


def test_running_and_completed_jobs_need_no_lookup(stubbed_s3) -> None:
    service, (sagemaker, _) = stubbed_s3
    sagemaker.add_response("describe_training_job", described("InProgress"), {"TrainingJobName": "dog-breed-1"})
    assert service.describe("dog-breed-1").model_saved is None
    sagemaker.add_response("describe_training_job", described("Completed"), {"TrainingJobName": "dog-breed-1"})
    assert service.describe("dog-breed-1").model_saved is True
