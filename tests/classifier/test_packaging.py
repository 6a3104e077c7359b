import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

from classifier.packaging import build_lambda_zip, build_model_archive, build_model_dir_code

# Runs inside the unpacked archive with only code/ importable, as the SageMaker container would.
SERVE_ONE = """
import json, sys
import classifier, inference
model = inference.model_fn(sys.argv[1])
data = inference.input_fn(open(sys.argv[2], "rb").read(), "image/jpeg")
body, content_type = inference.output_fn(inference.predict_fn(data, model), "application/json")
print(json.dumps({"content_type": content_type, "answer": json.loads(body), "torch": "torch" in sys.modules,
                  "package": classifier.__file__}))
"""


def test_model_archive_serves_a_photo_with_only_code_on_the_path(
    onnx_path: Path, dog_jpeg: Path, tmp_path: Path
) -> None:
    start = time.perf_counter()
    archive = build_model_archive(onnx_path, tmp_path / "model.tar.gz", model_name="breeds-v3")
    assert time.perf_counter() - start < 3.0
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert {
        "model.onnx",
        "model.json",
        "code/inference.py",
        "code/requirements.txt",
        "code/classifier/preprocessing.py",
        "code/classifier/data/imagenet_1000.txt",
    } <= names
    assert not any(
        n.endswith(("export_onnx.py", "packaging.py", "lambda_function.py")) or "__pycache__" in n for n in names
    )
    unpacked = tmp_path / "unpacked"
    assert json.loads((unpacked / "model.json").read_text()) == {
        "name": "breeds-v3",
        "framework": "onnx",
        "classes": "imagenet-1k",
        "input": [1, 3, 224, 224],
    }
    assert (unpacked / "code" / "requirements.txt").read_text().split() == [
        "onnxruntime>=1.17",
        "pillow>=10.0",
        "numpy>=1.24",
    ]

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(unpacked / "code")
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONE, str(unpacked), str(dog_jpeg)],
        cwd=unpacked / "code",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    served = json.loads(result.stdout)
    assert served["content_type"] == "application/json"
    assert served["answer"]["model"] == "breeds-v3" and served["answer"]["is_dog"] is True
    assert served["torch"] is False
    assert Path(served["package"]).is_relative_to(unpacked / "code")


def test_lambda_zip_has_the_handler_at_its_root(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "fn.zip")) as archive:
        assert archive.namelist() == ["lambda_function.py"]
        source = archive.read("lambda_function.py").decode()
    assert "def lambda_handler(event" in source and "from classifier" not in source


def test_model_dir_code_matches_the_model_archive(onnx_path: Path, tmp_path: Path) -> None:
    with tarfile.open(build_model_archive(onnx_path, tmp_path / "model.tar.gz")) as archive:
        archived = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.name.startswith("code/")}
    code_dir = build_model_dir_code(tmp_path / "model")
    written = {f"code/{p.relative_to(code_dir).as_posix()}": p.read_bytes() for p in code_dir.rglob("*") if p.is_file()}
    assert written == archived
    assert not any(n.endswith(("train.py", "breed_net.py", "distributed.py")) for n in written)
