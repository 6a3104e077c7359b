"""The default deployment end to end through real boto3: endpoint and Lambda on real photos."""

from __future__ import annotations

import base64
import csv
import io
import json
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from classifier.packaging import build_lambda_zip
from classifier.serving.model import DogBreedModel
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION

ROOT = Path(__file__).resolve().parent.parent.parent


def mapped_test_photos(datasets: Path) -> list[Path]:
    """Test photos whose Udacity breed ImageNet also has."""
    with open(datasets / "classes" / "udacity_to_imagenet.csv") as f:
        mapped = {row["udacity_class"] for row in csv.DictReader(f) if row["imagenet_indices"]}
    test = datasets / "dogs-wiki-133" / "test"
    return sorted(p for folder in test.iterdir() if folder.name in mapped for p in folder.iterdir())


def invoke_endpoint(localcloud, body: bytes, content_type: str = "image/jpeg") -> dict:
    runtime = localcloud.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(EndpointName=DEFAULT_ENDPOINT, Body=body, ContentType=content_type)
    return json.loads(response["Body"].read())


def invoke_lambda(localcloud, event: dict) -> dict:
    response = localcloud.client("lambda").invoke(FunctionName=DEFAULT_FUNCTION, Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def endpoint_error(localcloud, body: bytes, content_type: str = "image/jpeg") -> dict:
    with pytest.raises(ClientError) as error:
        invoke_endpoint(localcloud, body, content_type)
    return error.value.response


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_endpoint_equals_bare_model_on_mapped_test_photos(localcloud, datasets):
    model = DogBreedModel.load(ROOT / "build" / "efficientnet_lite0.onnx")
    photos = mapped_test_photos(datasets)
    assert len(photos) >= 50
    for photo in photos:
        data = photo.read_bytes()
        served, bare = invoke_endpoint(localcloud, data), model.predict_bytes(data)
        assert [p["label"] for p in served["predictions"]] == [p["label"] for p in bare["predictions"]], photo
        assert served["dog_score"] == pytest.approx(bare["dog_score"], abs=1e-5)
        assert served["model"] == "dog-breed-efficientnet-lite0"


def test_lambda_answers_like_the_endpoint(localcloud, dog_photo):
    data = dog_photo.read_bytes()
    reply = invoke_lambda(localcloud, {"image": base64.b64encode(data).decode()})
    assert reply["statusCode"] == 200
    body = json.loads(reply["body"])
    direct = invoke_endpoint(localcloud, data)
    assert body["predictions"] == direct["predictions"]
    assert body["is_dog"] is True
    assert body["predictions"][0]["label"] == "keeshond"


def test_negative_is_not_a_dog(localcloud, datasets):
    cup = (datasets / "negatives" / "skimage_coffee_cup.png").read_bytes()
    assert invoke_endpoint(localcloud, cup, "image/png")["is_dog"] is False


def test_original_projects_json_with_image(localcloud, dog_photo):
    """The original Lambda forwards its whole event as JSON; the endpoint accepts it."""
    event = {"image": base64.b64encode(dog_photo.read_bytes()).decode()}
    answer = invoke_endpoint(localcloud, json.dumps(event).encode(), "application/json")
    assert answer["is_dog"] is True


@pytest.mark.parametrize("mode", ["CMYK", "RGBA", "I;16", "P"])
def test_unusual_image_modes_are_classified(localcloud, dog_photo, mode):
    image = Image.open(dog_photo).convert("RGB")
    image = image.convert("L").convert("I;16") if mode == "I;16" else image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if mode == "CMYK" else "PNG")
    answer = invoke_endpoint(localcloud, buffer.getvalue(), "application/x-image")
    assert len(answer["predictions"]) == 5


BAD_INPUTS = {
    "non-image": (b"this is not an image at all", "image/jpeg", "not an image"),
    "empty": (b"", "image/jpeg", "empty"),
    "bomb": (png_claiming(20000, 20000), "image/png", "the limit is 50 MP"),
    "wrong content type": (b"hello", "text/plain", "content type"),
    "bad json": (b"{not json", "application/json", "json"),
    "loopback url": (json.dumps({"url": "http://127.0.0.1:22/dog.jpg"}).encode(), "application/json", "loopback"),
    "link-local url": (
        json.dumps({"url": "http://169.254.169.254/latest/meta-data"}).encode(),
        "application/json",
        "link-local",
    ),
    "private url": (json.dumps({"url": "http://10.1.2.3/dog.jpg"}).encode(), "application/json", "private"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_a_clear_model_error_and_the_endpoint_keeps_serving(localcloud, dog_photo, case):
    body, content_type, words = BAD_INPUTS[case]
    response = endpoint_error(localcloud, body, content_type)
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 400
    assert words.lower() in response["OriginalMessage"].lower()
    assert invoke_endpoint(localcloud, dog_photo.read_bytes())["is_dog"] is True


def test_truncated_jpeg(localcloud, dog_photo):
    data = dog_photo.read_bytes()
    response = endpoint_error(localcloud, data[: len(data) // 2])
    assert "truncated" in response["OriginalMessage"].lower() or "corrupt" in response["OriginalMessage"].lower()


def test_payload_over_6_mb_is_refused_with_aws_error(localcloud):
    response = endpoint_error(localcloud, b"\xff" * (6 * 1024 * 1024 + 1))
    assert response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as error:
        localcloud.client("lambda").invoke(
            FunctionName=DEFAULT_FUNCTION, Payload=json.dumps({"image": "A" * (6 * 1024 * 1024)})
        )
    assert error.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_lambda_bad_events_are_400_with_a_message(localcloud):
    for event in ({}, {"image": "%%% not base64 %%%"}, {"image": base64.b64encode(b"not an image").decode()}):
        reply = invoke_lambda(localcloud, event)
        assert reply["statusCode"] == 400
        assert json.loads(reply["body"])["message"]


def test_unknown_endpoint_and_function(localcloud):
    runtime = localcloud.client("sagemaker-runtime")
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"x", ContentType="image/jpeg")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as error:
        localcloud.client("lambda").invoke(FunctionName="no-such-function", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_lambda_pointing_at_a_missing_endpoint_says_so(localcloud, dog_photo):
    lambda_ = localcloud.client("lambda")
    lambda_.create_function(
        FunctionName="predict-elsewhere",
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/dog-breed-lambda-execution",
        Handler="lambda_function.lambda_handler",
        Timeout=30,
        Code={"ZipFile": _lambda_zip()},
        Environment={"Variables": {"ENDPOINT_NAME": "gone-endpoint"}},
    )
    response = lambda_.invoke(
        FunctionName="predict-elsewhere",
        Payload=json.dumps({"image": base64.b64encode(dog_photo.read_bytes()).decode()}),
    )
    reply = json.loads(response["Payload"].read())
    assert reply["statusCode"] == 502
    assert "gone-endpoint" in json.loads(reply["body"])["message"]


def _lambda_zip() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return build_lambda_zip(Path(tmp) / "f.zip").read_bytes()
