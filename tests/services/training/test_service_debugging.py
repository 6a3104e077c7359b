"""Reading a recording from S3 (localcloud, real boto3): whole, cut short by the size cap, missing; rule
parameters checked before anything is evaluated."""

from pathlib import Path

import pytest

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.training import debugging
from services.training.debugging import DebuggingService, check_rule_parameters, evaluate_rules
from tests.classifier.recording.test_recording import run

BUCKET = "debugging-service-test"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, directory = run(tmp_path_factory.mktemp("rec"), "0.01")
    return directory


@pytest.fixture
def service(aws_env) -> DebuggingService:
    return DebuggingService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))


def upload(aws_env, directory: Path, prefix: str) -> str:
    s3 = aws_env.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    for path in directory.rglob("*"):
        if path.is_file():
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(directory)}", Body=path.read_bytes())
    return f"s3://{BUCKET}/{prefix}"


def test_a_whole_recording_reads_back(aws_env, service, recorded) -> None:
    data = service.recording_at("job-a", upload(aws_env, recorded, "a"))
    assert data.notes == [] and data.files >= 3 and not data.empty  # each stream's parts: events, system, timeline
    results = {r.rule: r for r in evaluate_rules(data)}
    assert results["LossNotDecreasing"].status == "NoIssuesFound"
    tighter = {r.rule: r for r in evaluate_rules(data, {"LossNotDecreasing": {"diff_percent": "99"}})}
    assert tighter["LossNotDecreasing"].status == "IssuesFound"  # the same data judged with other parameters


def test_an_oversized_file_is_read_up_to_the_cap(aws_env, service, recorded, monkeypatch) -> None:
    location = upload(aws_env, recorded, "b")
    whole = service.recording_at("job-b", location)
    monkeypatch.setattr(debugging, "MAX_STREAM_BYTES", 3000)
    capped = service.recording_at("job-b", location)
    assert any("only its first" in note for note in capped.notes)
    assert 0 < len(capped.recording.scalars["Loss/train"].values) < len(whole.recording.scalars["Loss/train"].values)


def test_missing_recording_says_why(service) -> None:
    data = service.recording_at("job-c", f"s3://{BUCKET}/nothing-here")
    assert data.empty and data.notes[0].startswith(f"Nothing was recorded at s3://{BUCKET}/nothing-here")
    with pytest.raises(ServiceError, match="must be an s3:// URI"):
        service.recording_at("job-c", "https://example.com/x")


def test_rule_parameters_are_checked_first() -> None:
    with pytest.raises(ServiceError, match=r"^Overfit: patience must be at least 1, got '0'\.$"):
        check_rule_parameters("Overfit", {"patience": "0"})
    with pytest.raises(ServiceError, match="no Debugger rule named 'Overfitting'"):
        check_rule_parameters("Overfitting", {})
