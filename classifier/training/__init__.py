"""Training: the script-mode entry point, its config, data, network, distributed set-up and ONNX export."""
