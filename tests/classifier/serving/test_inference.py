import base64
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from classifier.preprocessing import ImageError
from classifier.serving import inference
from classifier.serving.fetch import FetchError
from classifier.serving.inference import DecodedRequest, input_fn, model_fn, output_fn, predict_fn
from classifier.serving.model import DogBreedModel


@pytest.fixture(scope="module")
def served_model(onnx_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DogBreedModel:
    model_dir = tmp_path_factory.mktemp("model")
    shutil.copy(onnx_path, model_dir / "model.onnx")
    (model_dir / "model.json").write_text(json.dumps({"name": "breeds-v2"}))
    return model_fn(str(model_dir))


def round_trip(body: bytes | str, content_type: str, model: DogBreedModel) -> dict:
    payload, accept = output_fn(predict_fn(input_fn(body, content_type), model), "application/json")
    assert accept == "application/json"
    return json.loads(payload)


def png_bytes(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).save(buffer, "PNG")
    return buffer.getvalue()


def test_model_fn_reads_the_name_from_model_json(served_model: DogBreedModel) -> None:
    assert served_model.name == "breeds-v2"


def test_model_fn_defaults_the_name(onnx_path: Path, tmp_path: Path) -> None:
    shutil.copy(onnx_path, tmp_path / "model.onnx")
    assert model_fn(str(tmp_path)).name == "dog-breed-efficientnet-lite0"


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/x-image", "image/jpeg; charset=binary"])
def test_raw_jpeg(content_type: str, served_model: DogBreedModel, dog_jpeg: Path) -> None:
    answer = round_trip(dog_jpeg.read_bytes(), content_type, served_model)
    assert answer["model"] == "breeds-v2" and answer["is_dog"] is True and len(answer["predictions"]) == 5


def test_png_and_webp(served_model: DogBreedModel, dog_jpeg: Path) -> None:
    png = png_bytes(dog_jpeg)
    webp = io.BytesIO()
    Image.open(dog_jpeg).save(webp, "WEBP")
    jpeg_answer = round_trip(dog_jpeg.read_bytes(), "image/jpeg", served_model)
    png_answer = round_trip(png, "image/png", served_model)
    assert png_answer["predictions"][0]["label"] == jpeg_answer["predictions"][0]["label"]
    assert round_trip(webp.getvalue(), "image/webp", served_model)["is_dog"] is True


def test_json_base64_image_and_lambda_event_shape(served_model: DogBreedModel, dog_jpeg: Path) -> None:
    encoded = base64.b64encode(dog_jpeg.read_bytes()).decode()
    assert round_trip(json.dumps({"image": encoded}), "application/json", served_model)["is_dog"] is True
    event = {"image": encoded, "requestContext": {"stage": "prod"}}
    assert round_trip(json.dumps(event).encode(), "application/json", served_model)["is_dog"] is True


def test_json_url_fetches_the_image(
    served_model: DogBreedModel, dog_jpeg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = []
    monkeypatch.setattr(inference, "fetch_image", lambda url: fetched.append(url) or dog_jpeg.read_bytes())
    answer = round_trip(json.dumps({"url": "https://example.org/dog.jpg"}), "application/json", served_model)
    assert fetched == ["https://example.org/dog.jpg"] and answer["is_dog"] is True


def test_latency_includes_decode_from_input_fn(served_model: DogBreedModel, dog_jpeg: Path) -> None:
    decoded = input_fn(dog_jpeg.read_bytes(), "image/jpeg")
    assert isinstance(decoded, DecodedRequest) and decoded.decode_ms > 0
    latency = predict_fn(decoded, served_model)["model_latency_ms"]
    assert latency["decode"] >= decoded.decode_ms
    assert latency["total"] == pytest.approx(latency["decode"] + latency["inference"], abs=0.02)


def test_unsupported_content_type() -> None:
    with pytest.raises(ValueError) as caught:
        input_fn(b"hello", "text/plain")
    assert str(caught.value) == (
        "Unsupported content type 'text/plain'; send image/jpeg, image/png, application/x-image or "
        'application/json with {"url": ...} or {"image": "<base64>"}.'
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"picture": "x"}', 'no "url" or "image"'),
        (b'{"image": "***not base64***"}', "not valid base64"),
        (b'{"image": ""}', "The file is empty"),
    ],
)
def test_bad_json_bodies(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        input_fn(body, "application/json")


def test_client_errors_are_value_errors() -> None:
    assert issubclass(ImageError, ValueError) and issubclass(FetchError, ValueError)
    with pytest.raises(ImageError):
        input_fn(b"", "image/jpeg")
    with pytest.raises(FetchError, match="loopback"):
        input_fn(json.dumps({"url": "http://127.0.0.1/x.jpg"}), "application/json")


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "text/html, application/json;q=0.9"])
def test_output_fn_accepts_json(accept: str | None) -> None:
    assert output_fn({"a": 1}, accept) == (b'{"a": 1}', "application/json")


def test_output_fn_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="Unsupported Accept 'text/csv'"):
        output_fn({"a": 1}, "text/csv")
