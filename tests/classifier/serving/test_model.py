import csv
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from classifier.labels import IMAGENET_DOG_CLASSES, imagenet_labels
from classifier.preprocessing import ImageError
from classifier.serving.model import DOG_THRESHOLD, DogBreedModel


def mapped_test_photos(photos: Path) -> list[tuple[Path, set[str]]]:
    """Test photos whose Udacity class ImageNet also has, with the acceptable ImageNet labels."""
    labels = imagenet_labels()
    with (photos / "classes" / "udacity_to_imagenet.csv").open() as handle:
        mapping = {
            row["udacity_class"]: {labels[int(i)] for i in row["imagenet_indices"].split()}
            for row in csv.DictReader(handle)
            if row["imagenet_indices"].strip()
        }
    return [
        (path, mapping[path.parent.name])
        for path in sorted((photos / "dogs-wiki-133" / "test").glob("*/*"))
        if path.parent.name in mapping
    ]


def test_answer_has_exactly_the_documented_shape(model: DogBreedModel, dog_jpeg: Path) -> None:
    answer = model.predict_bytes(dog_jpeg.read_bytes(), top_k=5)
    assert set(answer) == {"predictions", "is_dog", "dog_score", "model", "model_latency_ms"}
    assert answer["model"] == "dog-breed-efficientnet-lite0"
    assert set(answer["model_latency_ms"]) == {"decode", "inference", "total"}
    assert answer["model_latency_ms"]["total"] >= answer["model_latency_ms"]["inference"] > 0
    predictions = answer["predictions"]
    assert len(predictions) == 5 and all(set(p) == {"label", "score"} for p in predictions)
    scores = [p["score"] for p in predictions]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) <= answer["dog_score"] + 1e-6 <= 1.0 + 1e-6
    assert answer["is_dog"] is True
    json.dumps(answer)  # plain JSON types only


def test_top_k_must_fit_the_dog_classes(model: DogBreedModel, dog_jpeg: Path) -> None:
    assert len(model.predict_bytes(dog_jpeg.read_bytes(), top_k=1)["predictions"]) == 1
    with pytest.raises(ValueError, match="top_k must be between 1 and 118"):
        model.predict_bytes(dog_jpeg.read_bytes(), top_k=0)


def test_bad_bytes_raise_image_error(model: DogBreedModel) -> None:
    with pytest.raises(ImageError):
        model.predict_bytes(b"not an image")


def test_accuracy_on_breeds_imagenet_knows(model: DogBreedModel, photos: Path) -> None:
    # Measured on these 64 noisy Wikipedia photos (old prints, packs, drawings): top-1 0.69, top-5 0.86;
    # the 0.90 in ARCHITECTURE.md is for clean photos. 0.65 still catches real regressions: ImageNet
    # mean/std normalisation instead of (x - 127) / 128 scores 0.625 here.
    samples = mapped_test_photos(photos)
    assert len(samples) >= 40
    answers = [(model.predict_bytes(path.read_bytes())["predictions"], wanted) for path, wanted in samples]
    top1 = sum(predictions[0]["label"] in wanted for predictions, wanted in answers) / len(answers)
    top5 = sum(any(p["label"] in wanted for p in predictions) for predictions, wanted in answers) / len(answers)
    print(f"on {len(samples)} mapped test photos: top-1 {top1:.3f}, top-5 {top5:.3f}")
    assert top1 >= 0.65
    assert top5 >= 0.8


def test_dogs_are_dogs(model: DogBreedModel, photos: Path) -> None:
    paths = sorted((photos / "dogs-wiki-133" / "test").glob("*/*"))
    dogs = sum(model.predict_bytes(p.read_bytes())["is_dog"] for p in paths)
    print(f"is_dog on {len(paths)} dog test photos: {dogs}")
    assert dogs / len(paths) >= 0.85


def test_negatives_are_not_dogs(model: DogBreedModel, photos: Path) -> None:
    answers = {p.name: model.predict_bytes(p.read_bytes()) for p in sorted((photos / "negatives").iterdir())}
    flagged = [name for name, answer in answers.items() if answer["is_dog"]]
    print("dog_score of negatives:", {name: answer["dog_score"] for name, answer in answers.items()})
    assert len(answers) == 6 and len(flagged) <= 1
    assert all(answer["dog_score"] < DOG_THRESHOLD for name, answer in answers.items() if name not in flagged)


def test_concurrent_calls_give_the_same_answers(model: DogBreedModel, photos: Path) -> None:
    paths = sorted((photos / "dogs-wiki-133" / "test").glob("*/*"))[:8]
    serial = [model.predict_bytes(p.read_bytes())["predictions"] for p in paths]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda p: model.predict_bytes(p.read_bytes())["predictions"], paths))
    assert parallel == serial


def test_dog_classes_are_the_only_predictions(model: DogBreedModel, photos: Path) -> None:
    dog_labels = {imagenet_labels()[i] for i in IMAGENET_DOG_CLASSES}
    answer = model.predict_bytes((photos / "negatives" / "skimage_rocket.jpg").read_bytes(), top_k=10)
    assert {p["label"] for p in answer["predictions"]} <= dog_labels


def test_breed_labels_need_the_trained_models_two_outputs(onnx_path: Path) -> None:
    with pytest.raises(ValueError, match="needs ONNX outputs logits and imagenet_logits; this one has logits"):
        DogBreedModel.load(onnx_path, breed_labels=["Akita"])
