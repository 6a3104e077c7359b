from pathlib import Path

import numpy as np
import onnx
import torch

from classifier.preprocessing import load_image, to_model_input
from classifier.serving.model import DogBreedModel
from classifier.training.export_onnx import build_torch_model, export_onnx


def test_onnx_matches_torch_on_real_photos(model: DogBreedModel, photos: Path) -> None:
    paths = [sorted((photos / "dogs-wiki-133" / "test").glob("*/*"))[0], photos / "negatives" / "skimage_rocket.jpg"]
    batch = np.concatenate([to_model_input(load_image(p.read_bytes())) for p in paths])  # batch of 2: dynamic N
    with torch.no_grad():
        expected = build_torch_model()(torch.from_numpy(batch)).numpy()
    actual = model.logits(batch)
    assert actual.shape == (2, 1000)
    assert np.allclose(actual, expected, atol=1e-4)


def test_export_writes_named_dynamic_graph_atomically(tmp_path: Path) -> None:
    out = export_onnx(tmp_path / "sub" / "m.onnx")
    assert [p.name for p in out.parent.iterdir()] == ["m.onnx"]  # no temporary file left behind
    graph = onnx.load(str(out)).graph
    assert [i.name for i in graph.input] == ["input"]
    assert [o.name for o in graph.output] == ["logits"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 224, 224]
