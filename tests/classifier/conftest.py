"""Fixtures for the classifier workload: the exported ONNX model and the shared real photos."""

from pathlib import Path

import pytest

from classifier.serving.model import DogBreedModel
from classifier.training.export_onnx import export_onnx
from tests.channels import DATASETS, required

ROOT = Path(__file__).resolve().parents[2]
ONNX_PATH = ROOT / "build" / "efficientnet_lite0.onnx"


@pytest.fixture(scope="session")
def onnx_path() -> Path:
    """The model ./dev exports at setup; exported here if a fresh checkout has not run it yet."""
    if not ONNX_PATH.exists():
        export_onnx(ONNX_PATH)
    return ONNX_PATH


@pytest.fixture(scope="session")
def model(onnx_path: Path) -> DogBreedModel:
    return DogBreedModel.load(onnx_path)


@pytest.fixture(scope="session")
def photos() -> Path:
    return required(DATASETS)


@pytest.fixture(scope="session")
def dog_jpeg(photos: Path) -> Path:
    return sorted((photos / "dogs-wiki-133" / "test" / "056.Dachshund").iterdir())[0]
