"""The services against a real localcloud through real boto3 (fixtures `localcloud`/`aws_env` in
tests/conftest.py): the same calls that run against AWS."""

import pytest

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.overview.connection import get_overview
from services.serving.prediction import DEFAULT_ENDPOINT, DEFAULT_FUNCTION, PredictionService


@pytest.fixture
def service(aws_env) -> PredictionService:
    return PredictionService(settings=CloudSettings.from_env())


@pytest.mark.parametrize(("via", "target"), [("lambda", DEFAULT_FUNCTION), ("endpoint", DEFAULT_ENDPOINT)])
def test_a_dog_photo_is_a_dog_on_both_paths(service: PredictionService, dog_jpeg: bytes, via: str, target: str) -> None:
    prediction = service.predict_image(dog_jpeg, via=via, target=target)
    assert prediction.is_dog is True
    assert prediction.breeds[0].label == "Afghan_hound"
    assert len(prediction.breeds) == 5
    assert prediction.round_trip_ms > 0
    assert prediction.model_ms is not None and prediction.model_ms > 0


def test_a_coffee_cup_is_not_a_dog(service: PredictionService, cup_png: bytes) -> None:
    prediction = service.predict_image(cup_png, via="endpoint", target=DEFAULT_ENDPOINT)
    assert prediction.is_dog is False


def test_an_oversized_photo_is_downsized_and_classified(service: PredictionService, big_photo: bytes) -> None:
    prediction = service.predict_image(big_photo, via="lambda", target=DEFAULT_FUNCTION)
    assert prediction.note is not None
    assert prediction.breeds


@pytest.mark.parametrize(("via", "message"), [("endpoint", "Could not call endpoint"), ("lambda", "not found")])
def test_unknown_targets_are_explained(service: PredictionService, dog_jpeg: bytes, via: str, message: str) -> None:
    with pytest.raises(ServiceError, match=message):
        service.predict_image(dog_jpeg, via=via, target="no-such-target")


@pytest.mark.parametrize("via", ["lambda", "endpoint"])
def test_a_loopback_url_is_refused_by_the_cloud(service: PredictionService, via: str) -> None:
    target = DEFAULT_FUNCTION if via == "lambda" else DEFAULT_ENDPOINT
    with pytest.raises(ServiceError):
        service.predict_url("http://127.0.0.1:1/dog.jpg", via=via, target=target)


def test_targets_and_overview(service: PredictionService, aws_env) -> None:
    targets = service.list_targets()
    assert DEFAULT_ENDPOINT in targets.endpoints
    assert DEFAULT_FUNCTION in targets.functions
    overview = get_overview(CloudSettings.from_env())
    assert (overview.cloud, overview.health, overview.errors) == ("localcloud", "ok", [])
    assert overview.account
    endpoint = next(e for e in overview.endpoints if e.name == DEFAULT_ENDPOINT)
    assert (endpoint.status, endpoint.instance_count) == ("InService", 1)
    assert DEFAULT_FUNCTION in [f.name for f in overview.functions]
